"""Every statement of the job leases, on any table with the lease columns (``state``,
``not_before``, ``lease_owner``, ``lease_expires_at``, ``attempts``, ``created_at``):
the exchange and payment run tables, handed in as ``model`` with its primary key
column ``key``.

Why the claim is built this way (the candidate read, then the guarded update) is told
with the logic in ``gateway.jobs.leases``. Every function runs in the caller's session
and never commits: the runner owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession


def _free(model: Any, now: datetime) -> ColumnElement[bool]:
    return or_(model.lease_expires_at.is_(None), model.lease_expires_at < now)


async def oldest_ready(session: AsyncSession, model: Any, key: Any, now: datetime) -> Any:
    """The key of the oldest job queued or running, due by ``now`` and whose lease is
    free or expired at ``now``; None when there is none. On PostgreSQL the row is locked
    (``FOR UPDATE SKIP LOCKED``) until the transaction ends, and rows other transactions
    hold are skipped."""
    query = (
        select(key)
        .where(model.state.in_(("queued", "running")), model.not_before <= now, _free(model, now))
        .order_by(model.created_at)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return (await session.execute(query)).scalar()


async def take_lease(
    session: AsyncSession,
    model: Any,
    key: Any,
    job_id: Any,
    owner: str,
    now: datetime,
    until: datetime,
) -> bool:
    """Give the job to ``owner`` until ``until`` and mark it running, only if its lease is
    still free or expired at ``now``; whether this update won it."""
    won = await session.execute(
        update(model)
        .where(key == job_id, _free(model, now))
        .values(lease_owner=owner, lease_expires_at=until, state="running")
    )
    return bool(getattr(won, "rowcount", 0))


async def update_if_held(
    session: AsyncSession, model: Any, key: Any, job_id: str, owner: str, values: dict[str, Any]
) -> bool:
    """Write ``values`` to the job only while ``owner`` holds its lease; whether it did."""
    moved = await session.execute(
        update(model).where(key == job_id, model.lease_owner == owner).values(values)
    )
    return bool(getattr(moved, "rowcount", 0))


async def attempts(session: AsyncSession, model: Any, key: Any, job_id: str) -> int:
    """The job's failed attempts so far (0 for an unknown job)."""
    found = (await session.execute(select(model.attempts).where(key == job_id))).scalar()
    return int(found or 0)
