"""Claiming durable jobs with leases, shared by every process on one database.

A job row carries ``state``, ``not_before``, ``lease_owner`` and ``lease_expires_at``.
A process claims the oldest ready job whose lease is free or expired; on PostgreSQL the
candidate is locked with ``FOR UPDATE SKIP LOCKED`` so concurrent claimers pick
different jobs, and on both databases the claim itself is a guarded update, so only one
claimer wins. Work done afterwards is written under the same guard (the lease owner).
The caller owns the transaction (``gateway.jobs.JobRunner`` commits the claim). The
statements are in ``gateway.jobs.repository``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.jobs import repository


async def claim(
    session: AsyncSession,
    model: Any,
    key: Any,
    owner: str,
    lease: timedelta,
) -> str | None:
    """The id of the job this owner now holds for ``lease``, or None when none is ready."""
    now = datetime.now(UTC)
    job = await repository.oldest_ready(session, model, key, now)
    if job is None:
        return None
    won = await repository.take_lease(session, model, key, job, owner, now, now + lease)
    return str(job) if won else None


async def hold(
    session: AsyncSession, model: Any, key: Any, job_id: str, owner: str, **values: Any
) -> bool:
    """Write ``values`` to the job only while ``owner`` holds its lease (False otherwise)."""
    return await repository.update_if_held(session, model, key, job_id, owner, values)


async def attempts(session: AsyncSession, model: Any, key: Any, job_id: str) -> int:
    """The job's failed attempts so far (0 for an unknown job)."""
    return await repository.attempts(session, model, key, job_id)
