"""Retention's statements on the replay cache (belongs in ``IdempotencyRepository`` as
``purge_before``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.idempotency.models import IdempotencyRecord


async def purge_before(session: AsyncSession, cutoff: datetime, *, dry_run: bool = False) -> int:
    """Delete replay-cache answers first requested before ``cutoff``; returns how many
    (counted only, with ``dry_run``)."""
    old = IdempotencyRecord.created_at < cutoff
    count = int(
        (
            await session.execute(select(func.count()).select_from(IdempotencyRecord).where(old))
        ).scalar_one()
    )
    if not dry_run:
        await session.execute(delete(IdempotencyRecord).where(old))
    return count
