"""The disclosures a person may read about themselves, from the audit log
(``audit_events``, a table of the ``audit`` library).

Runs in the caller's session and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import decode
from audit.store import about_any, audit_events


async def disclosures_about(
    session: AsyncSession,
    subject_refs: Sequence[str],
    excluded_services: Sequence[str],
    after: int,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to ``limit`` allowed events about any of these pseudonyms, outside
    ``excluded_services``, with a sequence number above ``after``, decoded, in sequence
    order."""
    query = (
        select(audit_events)
        .where(
            audit_events.c.decision == "allowed",
            audit_events.c.service.not_in(list(excluded_services)),
            about_any(list(subject_refs)),
            audit_events.c.seq > after,
        )
        .order_by(audit_events.c.seq)
        .limit(limit)
    )
    return [decode(r) for r in (await session.execute(query)).mappings().all()]
