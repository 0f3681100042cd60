"""The audit API's reads of the audit log (``audit_events``, ``audit_chain``,
``audit_checkpoints``, tables of the ``audit`` library): filtered pages of events and
signed checkpoints.

Every function runs in the caller's session and never commits; validating what a caller
asked for stays with the route. (A person's own disclosures are read by
``gateway.subjects.repository``.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import to_us
from audit.store import about_any, audit_chain, audit_checkpoints, audit_events


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
