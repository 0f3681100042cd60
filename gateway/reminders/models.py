"""The reminder tables: batches as the programme asked them, one row per reminder with
the SMSC's message id and final outcome, and the phones that opted out.

A phone appears only sealed (``phone_sealed``, for sending) and as a pseudonym
(``phone_ref``, for the opt-out look-up and the audit); a caregiver only as a pseudonym.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime


class ReminderBatch(Base):
    __tablename__ = "sms_reminder_batches"
    __table_args__ = (UniqueConstraint("client_id", "batch_ref"),)

    batch_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(80))
    batch_ref: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(40))
    legal_basis: Mapped[str] = mapped_column(String(40))
    template: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


#: Every state a reminder is in: waiting, taken by a process, handed to the SMSC, and the
#: final ones.
STATES = (
    "queued",
    "sending",
    "submitted",
    "delivered",
    "failed",
    "expired",
    "opted_out",
    "refused",
)


class Reminder(Base):
    """One reminder. Its key is the primary key: asked again, it is never sent twice.

    Due reminders are found by ``(state, next_at)``, one state at a time in the index's
    order, so that taking the next 2,000 reads 2,000 index entries whatever the queue
    holds; a batch's reminders are counted by state from ``(batch_id, state)`` alone."""

    __tablename__ = "sms_reminders"
    __table_args__ = (
        Index("ix_sms_reminders_state_next_at", "state", "next_at"),
        Index("ix_sms_reminders_batch_id_state", "batch_id", "state"),
    )

    reminder_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    batch_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("sms_reminder_batches.batch_id", ondelete="CASCADE")
    )
    subject_ref: Mapped[str] = mapped_column(String(64))
    phone_ref: Mapped[str] = mapped_column(String(64), index=True)
    phone_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16))  # one of STATES
    message_id: Mapped[str | None] = mapped_column(String(65), nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(64), nullable=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    receipt_status: Mapped[str | None] = mapped_column(String(8), nullable=True)
    receipt_error: Mapped[str | None] = mapped_column(String(8), nullable=True)


class OptOut(Base):
    """A phone whose holder replied a stop word: it gets no further reminder."""

    __tablename__ = "sms_opt_outs"

    phone_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    keyword: Mapped[str] = mapped_column(String(16))
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime())
