"""Append-only storage of audit events, their hash chain and signed checkpoints.

``append`` is the only write of events. The database gives each event its sequence
number on insert; the sealer (``audit.sealer``) later chains events in sequence order,
writing one ``audit_chain`` row per event, and signs checkpoints. Nothing here updates
or deletes an event; archiving removes sealed ranges only after writing them to a
signed archive.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from audit.chain import ROW_COLUMNS
from audit.events import AuditEvent, decode

metadata = MetaData()
SEQ = BigInteger().with_variant(Integer, "sqlite")

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("occurred_us", BigInteger, nullable=False, index=True),
    Column("client_id", String(80), index=True),
    Column("service", String(64), nullable=False),
    Column("purpose", String(64)),
    Column("decision", String(16), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("subjects", Text, nullable=False),
    Column("body", Text, nullable=False),
    # SQLite: never reuse a sequence number, even after the newest rows are archived.
    sqlite_autoincrement=True,
)

audit_chain = Table(
    "audit_chain",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=False),
    Column("head_hash", LargeBinary(32), nullable=False),
    Column("signed_us", BigInteger, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
)

audit_keys = Table(
    "audit_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("private_sealed", LargeBinary, nullable=False),
    Column("created_us", BigInteger, nullable=False),
)

# Ranges sealed into archive files and removed from the database: verification of the
# database starts from the last one's hash.
audit_archives = Table(
    "audit_archives",
    metadata,
    Column("first_seq", SEQ, primary_key=True, autoincrement=False),
    Column("last_seq", SEQ, nullable=False),
    Column("last_hash", LargeBinary(32), nullable=False),
    Column("manifest", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
)


def about_any(refs: Sequence[str]) -> ColumnElement[bool]:
    """Events whose subjects include any of these pseudonyms (a scan of the column)."""
    return or_(*(audit_events.c.subjects.like(f"%{ref}%") for ref in refs))


# Built once: executed with parameters, the statement compiles once and stays cached.
_INSERT = insert(audit_events)


async def append(session: AsyncSession, event: AuditEvent) -> None:
    """Append in the caller's transaction (when the event records a change made there)."""
    await session.execute(_INSERT, [event.as_row()])


async def append_many(session: AsyncSession, events: Sequence[AuditEvent]) -> None:
    await session.execute(_INSERT, [event.as_row() for event in events])


@functools.lru_cache(maxsize=64)
def values_sql(dialect: str, rows: int) -> str:
    """A multi-row insert: ``$n`` placeholders for psycopg's raw cursor (no query
    rewriting per batch), ``?`` for SQLite."""
    width = len(ROW_COLUMNS)
    if dialect == "postgresql":
        tuples = (
            "(" + ",".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(rows)
        )
    else:
        tuples = ("(" + ",".join("?" * width) + ")" for _ in range(rows))
    return f"INSERT INTO audit_events ({','.join(ROW_COLUMNS)}) VALUES " + ",".join(tuples)


async def append_alone(conn: AsyncConnection, events: Sequence[AuditEvent]) -> None:
    """Append events in one statement on a connection in autocommit mode: one round trip
    that returns only once the events are committed, all of them or none."""
    if not events:
        return
    dialect = conn.dialect.name
    params = [value for event in events for value in event.as_values()]
    sql = values_sql(dialect, len(events))
    if dialect == "postgresql":
        driver: Any = (await conn.get_raw_connection()).driver_connection
        async with psycopg.AsyncRawCursor(driver) as cursor:
            await cursor.execute(sql, params)
    else:
        await conn.exec_driver_sql(sql, tuple(params))


async def recent(session: AsyncSession, limit: int = 100) -> Sequence[dict[str, Any]]:
    """The newest events, decoded, newest first."""
    rows = await session.execute(
        select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
    )
    return [decode(r._mapping) for r in rows]
