from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime


class ExchangeRun(Base):
    """One run of a periodic exchange. Its state lives only here, so any process may
    carry it on: ``cursor`` is the partner's position after the last stored chunk."""

    __tablename__ = "exchange_runs"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    slot: Mapped[str | None] = mapped_column(String(96), nullable=True, unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued|running|succeeded|failed
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    cursor: Mapped[str | None] = mapped_column(Text, nullable=True)
    chunks_done: Mapped[int] = mapped_column(Integer)
    records: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Who started the run (``gateway.jobs.starters``): a client id, ``schedule``, ``cli``
    # or ``console``, and the person, when there is one.
    triggered_by: Mapped[str] = mapped_column(String(80))
    triggered_by_user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ExchangeChunk(Base):
    """Records staged by a run, one sealed chunk per partner page."""

    __tablename__ = "exchange_chunks"

    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("exchange_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    chunk_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    rows: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
