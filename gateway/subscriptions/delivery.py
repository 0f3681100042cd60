"""Push deliveries as a kind of job of the runner (``gateway.jobs.Dispatch``).

The runner owns the transactions and the retry policy: it lists the due deliveries,
claims one in a transaction (which also reads its payload), POSTs it to the
subscriber's webhook with no transaction open, and records the outcome in another
transaction, with its exponential backoff (0.5 s doubling, at most ``max_backoff_seconds``)
and dead letter (``dead`` after ``max_attempts`` calls). Each database step is a method
of ``SubscriptionService`` working in the runner's session.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.subscriptions.models import Delivery, Subscription
from gateway.subscriptions.service import SubscriptionService

Due = tuple[Delivery, Subscription]


class DeliveryJob:
    """Push deliveries: an item is a due ``(Delivery, Subscription)`` pair; the call is
    the signed POST of its payload."""

    name = "deliveries"

    def __init__(
        self,
        subscriptions: SubscriptionService,
        max_attempts: int = 8,
        max_backoff_seconds: float = 600.0,
    ) -> None:
        self.subscriptions = subscriptions
        self.max_attempts = max_attempts
        self.max_backoff_seconds = max_backoff_seconds

    async def due(self, session: AsyncSession, now: datetime) -> list[Any]:
        return list(await self.subscriptions.due(session, now))

    async def claim(
        self, session: AsyncSession, item: Any, now: datetime, until: datetime
    ) -> tuple[int, Any] | None:
        delivery, sub = item
        if not await self.subscriptions.claim(session, delivery, now, until):
            return None
        payload = await self.subscriptions.payload(session, sub, delivery)
        return delivery.attempts, (sub, delivery, payload)

    async def call(self, work: Any) -> str | None:
        sub, delivery, payload = work
        return await self.subscriptions.send(sub, delivery, payload)

    async def record(
        self,
        session: AsyncSession,
        item: Any,
        attempts: int,
        error: str | None,
        next_at: datetime | None,
    ) -> None:
        delivery, _ = item
        await self.subscriptions.record(session, delivery, attempts, error, next_at)
