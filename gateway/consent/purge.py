"""Retention's statements on the consent tables (belongs in the consent repository
once it has one: ``purge_before``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.consent.models import Consent, ConsentRevision


async def purge_before(session: AsyncSession, cutoff: datetime, *, dry_run: bool = False) -> int:
    """Delete consents that ended (revoked, or expired while active) before ``cutoff``
    with their revisions; returns how many consents (counted only, with ``dry_run``)."""
    ended = or_(
        Consent.ended_at < cutoff,
        and_(Consent.state == "active", Consent.expires_at < cutoff),
    )
    ids = (await session.execute(select(Consent.consent_id).where(ended))).scalars().all()
    if not dry_run:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            await session.execute(
                delete(ConsentRevision).where(ConsentRevision.consent_id.in_(chunk))
            )
            await session.execute(delete(Consent).where(Consent.consent_id.in_(chunk)))
    return len(ids)
