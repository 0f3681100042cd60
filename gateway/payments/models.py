from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime


class PaymentRun(Base):
    __tablename__ = "payment_runs"
    __table_args__ = (UniqueConstraint("client_id", "run_ref"),)

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40))
    run_ref: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued|running|done|failed
    requested_date: Mapped[date] = mapped_column(Date)
    items: Mapped[int] = mapped_column(Integer)
    chunks: Mapped[int] = mapped_column(Integer)
    chunks_done: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reconciliation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Who started the run (``gateway.jobs.starters``): the submitting client, and the
    # person it named (``X-User-Id``), if any.
    triggered_by: Mapped[str] = mapped_column(String(80))
    triggered_by_user: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PaymentItem(Base):
    """One transfer. Its EndToEndId is the primary key: no roll can ever carry it twice."""

    __tablename__ = "payment_items"

    end_to_end_id: Mapped[str] = mapped_column(String(35), primary_key=True)
    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("payment_runs.run_id", ondelete="CASCADE"), index=True
    )
    chunk_no: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    amount: Mapped[str] = mapped_column(String(16))
    holder_ref: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # holder DNI, name, CCI
    status: Mapped[str] = mapped_column(String(16))  # queued|submitted|paid|rejected|pending
    reason: Mapped[str | None] = mapped_column(String(16), nullable=True)


class PaymentChunk(Base):
    """One pain.001 document, kept byte for byte before it is sent."""

    __tablename__ = "payment_chunks"

    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("payment_runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    chunk_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(35), unique=True)
    state: Mapped[str] = mapped_column(String(16))  # built|reported
    document_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    group_status: Mapped[str | None] = mapped_column(String(8), nullable=True)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
