"""The push delivery loop: the owner of the transactions in which webhook deliveries are
listed, claimed, read and recorded, until the durable job runner takes this work over.

Each step is its own short transaction and none is held across the webhook's HTTP call:
list what is due; claim one delivery (so one process sends it); read its payload; POST
it; record the outcome. The service (``SubscriptionService``) does each step in the
session given here and never commits.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.core.db import transaction
from gateway.subscriptions.service import SubscriptionService


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession], subscriptions: SubscriptionService
) -> int:
    """POST every due push delivery once; how many were attempted."""
    now = datetime.now(UTC)
    async with transaction(sessions) as session:  # transaction owner: the due list
        due = await subscriptions.due(session, now)
    attempted = 0
    for delivery, sub in due:
        async with transaction(sessions) as session:  # transaction owner: the claim
            if not await subscriptions.claim(session, delivery, now):
                continue
        attempted += 1
        async with transaction(sessions) as session:  # transaction owner: the payload read
            payload = await subscriptions.payload(session, sub, delivery)
        error = await subscriptions.send(sub, delivery, payload)
        async with transaction(sessions) as session:  # transaction owner: the outcome
            await subscriptions.record(session, delivery, error)
    return attempted
