"""Retention's statements on the inbound tables (belongs in the inbound repository once
it has one: ``purge_before``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.inbound.models import InboundChunk, InboundMessage


async def purge_before(
    session: AsyncSession, partner: str, feed: str, cutoff: datetime, *, dry_run: bool = False
) -> int:
    """Delete a feed's messages received before ``cutoff`` with their chunks; returns the
    rows they had accepted (counted only, with ``dry_run``)."""
    old = (
        InboundMessage.partner == partner,
        InboundMessage.kind == feed,
        InboundMessage.received_at < cutoff,
    )
    rows = int(
        (
            await session.execute(
                select(func.coalesce(func.sum(InboundMessage.rows_accepted), 0)).where(*old)
            )
        ).scalar_one()
    )
    if not dry_run and rows:
        ids = select(InboundMessage.message_id).where(*old)
        await session.execute(
            delete(InboundChunk).where(
                InboundChunk.partner == partner, InboundChunk.message_id.in_(ids)
            )
        )
        await session.execute(delete(InboundMessage).where(*old))
    return rows
