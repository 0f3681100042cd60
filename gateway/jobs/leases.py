"""Claiming durable jobs with leases, shared by every process on one database.

A job row carries ``state``, ``not_before``, ``lease_owner`` and ``lease_expires_at``.
A process claims the oldest ready job whose lease is free or expired; on PostgreSQL the
candidate is locked with ``FOR UPDATE SKIP LOCKED`` so concurrent claimers pick
different jobs, and on both databases the claim itself is a guarded update, so only one
claimer wins. Work done afterwards is written under the same guard (the lease owner).
The caller owns the transaction (``gateway.jobs.JobRunner`` commits the claim).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession


async def claim(
    session: AsyncSession,
    model: Any,
    key: Any,
    owner: str,
    lease: timedelta,
) -> str | None:
    """The id of the job this owner now holds for ``lease``, or None when none is ready."""
    now = datetime.now(UTC)
    free = or_(model.lease_expires_at.is_(None), model.lease_expires_at < now)
    query = (
        select(key)
        .where(model.state.in_(("queued", "running")), model.not_before <= now, free)
        .order_by(model.created_at)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    job = (await session.execute(query)).scalar()
    if job is None:
        return None
    won = await session.execute(
        update(model)
        .where(key == job, free)
        .values(lease_owner=owner, lease_expires_at=now + lease, state="running")
    )
    return str(job) if getattr(won, "rowcount", 0) else None


async def hold(
    session: AsyncSession, model: Any, key: Any, job_id: str, owner: str, **values: Any
) -> bool:
    """Write ``values`` to the job only while ``owner`` holds its lease (False otherwise)."""
    moved = await session.execute(
        update(model).where(key == job_id, model.lease_owner == owner).values(values)
    )
    return bool(getattr(moved, "rowcount", 0))


async def attempts(session: AsyncSession, model: Any, key: Any, job_id: str) -> int:
    """The job's failed attempts so far (0 for an unknown job)."""
    found = (await session.execute(select(model.attempts).where(key == job_id))).scalar()
    return int(found or 0)
