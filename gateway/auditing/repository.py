"""The gateway's statements on the ``audit`` library's tables: the audit API's reads of
the log (``audit_events``, ``audit_chain``, ``audit_checkpoints``: filtered pages of
events and signed checkpoints), the checkpoint signing keys (``audit_keys``, whose
sealing and rotation ``gateway.auditing.checkpoint_keys`` decides), and the archive's
cut-off by age.

Every function runs in the caller's session, or on the synchronous connection of the
offline jobs (``*_sync``), and never commits; validating what a caller asked for stays
with the route. (A person's own disclosures are read by ``gateway.subjects.repository``.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import to_us
from audit.store import about_any, audit_chain, audit_checkpoints, audit_events, audit_keys

_NEWEST_KEY = select(audit_keys).order_by(audit_keys.c.created_us.desc()).limit(1)


def event_query(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    equal: Mapping[str, str | None] | None = None,
    subject_refs: Sequence[str] | None = None,
) -> Select[Any]:
    """Events with their chain hash: occurred in ``[since, until)`` (aware times),
    whose columns named in ``equal`` hold the given values (None: any), and, with
    ``subject_refs``, about any of these pseudonyms. Unordered; see :func:`events_page`."""
    query = select(audit_events, audit_chain.c.hash).outerjoin(
        audit_chain, audit_chain.c.seq == audit_events.c.seq
    )
    if since is not None:
        query = query.where(audit_events.c.occurred_us >= to_us(since))
    if until is not None:
        query = query.where(audit_events.c.occurred_us < to_us(until))
    for name, value in (equal or {}).items():
        if value is not None:
            query = query.where(audit_events.c[name] == value)
    if subject_refs is not None:
        query = query.where(about_any(list(subject_refs)))
    return query


async def events_page(
    session: AsyncSession, query: Select[Any], after: int, limit: int
) -> Sequence[RowMapping]:
    """Up to ``limit`` rows of an :func:`event_query` with a sequence number above
    ``after``, in sequence order."""
    page = query.where(audit_events.c.seq > after).order_by(audit_events.c.seq).limit(limit)
    rows: Sequence[RowMapping] = (await session.execute(page)).mappings().all()
    return rows


async def events_page_before(
    session: AsyncSession, query: Select[Any], before: int | None, limit: int
) -> Sequence[RowMapping]:
    """Up to ``limit`` rows of an :func:`event_query` with a sequence number below
    ``before`` (None: the newest), newest first."""
    page = query
    if before is not None:
        page = page.where(audit_events.c.seq < before)
    page = page.order_by(audit_events.c.seq.desc()).limit(limit)
    rows: Sequence[RowMapping] = (await session.execute(page)).mappings().all()
    return rows


async def chain_extent(session: AsyncSession) -> tuple[int | None, int | None, int | None]:
    """(lowest and highest sequence number of a stored event, highest chained one);
    None where there is none."""
    low, high = (
        await session.execute(select(func.min(audit_events.c.seq), func.max(audit_events.c.seq)))
    ).one()
    head = (await session.execute(select(func.max(audit_chain.c.seq)))).scalar()
    return (
        None if low is None else int(low),
        None if high is None else int(high),
        None if head is None else int(head),
    )


async def checkpoints_page(session: AsyncSession, after: int, limit: int) -> Sequence[RowMapping]:
    """Up to ``limit`` signed checkpoints above sequence ``after``, in order."""
    return (
        (
            await session.execute(
                select(audit_checkpoints)
                .where(audit_checkpoints.c.seq > after)
                .order_by(audit_checkpoints.c.seq)
                .limit(limit)
            )
        )
        .mappings()
        .all()
    )


async def newest_key(session: AsyncSession) -> RowMapping | None:
    """The most recently created checkpoint key's row (``key_id``, ``public_key``,
    ``private_sealed``, ``created_us``), or None when there is none."""
    return (await session.execute(_NEWEST_KEY)).mappings().first()


def newest_key_sync(conn: Connection) -> RowMapping | None:
    """:func:`newest_key` on a synchronous connection."""
    return conn.execute(_NEWEST_KEY).mappings().first()


async def add_key(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Insert a checkpoint key row (the columns of :func:`newest_key`)."""
    await session.execute(insert(audit_keys).values(**values))


def add_key_sync(conn: Connection, values: Mapping[str, Any]) -> None:
    """:func:`add_key` on a synchronous connection."""
    conn.execute(insert(audit_keys).values(**values))


async def keys(session: AsyncSession) -> Sequence[RowMapping]:
    """Every checkpoint key row, oldest first."""
    return (
        (await session.execute(select(audit_keys).order_by(audit_keys.c.created_us)))
        .mappings()
        .all()
    )


def chain_head_sync(conn: Connection) -> int:
    """The highest chained sequence number (0: nothing chained yet)."""
    return int(conn.execute(select(func.max(audit_chain.c.seq))).scalar() or 0)


def keys_sync(conn: Connection) -> Sequence[RowMapping]:
    """Every checkpoint key row, in no particular order."""
    return conn.execute(select(audit_keys)).mappings().all()


def last_seq_before_sync(conn: Connection, occurred_us: int) -> int | None:
    """The highest sequence number of an event that occurred before ``occurred_us``
    (microseconds since the epoch), or None when none did."""
    found = conn.execute(
        select(func.max(audit_events.c.seq)).where(audit_events.c.occurred_us < occurred_us)
    ).scalar()
    return None if found is None else int(found)
