"""Append-only storage of audit events.

``append`` is the only write. It runs inside the caller's transaction so an event
commits, or not, with the exchange it records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import AuditEvent

metadata = MetaData()

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    Column("request_id", String(128), nullable=False),
    Column("client_id", String(40)),
    Column("user_id", String(64)),
    Column("roles", JSON, nullable=False),
    Column("purpose", String(64)),
    Column("legal_basis", String(64)),
    Column("service", String(64), nullable=False),
    Column("partner", String(32)),
    Column("operation", String(64)),
    Column("subjects", JSON, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reason", String(200)),
    Column("outcome", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("request_digest", String(64)),
    Column("response_digest", String(64)),
    Column("request_bytes", Integer, nullable=False),
    Column("response_bytes", Integer, nullable=False),
)


# Built once: executed with parameters, the statement compiles once and stays cached.
_INSERT = insert(audit_events)


async def append(session: AsyncSession, event: AuditEvent) -> None:
    """Append in the caller's transaction (when the event records a change made there)."""
    await session.execute(_INSERT, [event.as_row()])


async def append_many(session: AsyncSession, events: Sequence[AuditEvent]) -> None:
    await session.execute(_INSERT, [event.as_row() for event in events])


async def recent(session: AsyncSession, limit: int = 100) -> Sequence[dict[str, Any]]:
    rows = await session.execute(
        select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
    )
    return [dict(r._mapping) for r in rows]
