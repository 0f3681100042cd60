from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime


class Subscription(Base):
    __tablename__ = "subscriptions"

    subscription_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40), index=True)
    feed: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))  # push | pull
    webhook_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Delivery(Base):
    """One stored chunk of a pushed message, owed to one subscription."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "partner", "message_id", "chunk_no"),)

    delivery_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    subscription_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("subscriptions.subscription_id", ondelete="CASCADE"), index=True
    )
    partner: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(128))
    chunk_no: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(
        String(16), index=True
    )  # pending|delivered|acknowledged|dead
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
