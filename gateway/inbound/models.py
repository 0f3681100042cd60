"""Inbound messages and their accepted rows (sealed in chunks under a data key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime


class InboundMessage(Base):
    __tablename__ = "inbound_messages"

    partner: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(40))
    # The person who pushed it, when one did (a console upload, or a client's X-User-Id).
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(16))  # receiving | accepted
    body_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Row numbers, field names and messages only: never a value from the body.
    rejections: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class InboundChunk(Base):
    __tablename__ = "inbound_chunks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["partner", "message_id"],
            ["inbound_messages.partner", "inbound_messages.message_id"],
            ondelete="CASCADE",
        ),
    )

    partner: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    chunk_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_row: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
