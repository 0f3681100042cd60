"""Push deliveries as a kind of job of the runner (``gateway.jobs.Dispatch``).

The runner owns the transactions and the retry policy: it lists the due deliveries,
claims one in a transaction (which also reads its payload), POSTs it to the
subscriber's webhook with no transaction open, and records the outcome in another
transaction, with its exponential backoff (0.5 s doubling, at most ``max_backoff_seconds``)
and dead letter (``dead`` after ``max_attempts`` calls). Each database step is a method
of ``SubscriptionService`` working in the runner's session.

Every attempt leaves an audit event in the transaction that records its outcome, naming
who the delivery is made for and started by: the subscription's client (``client_id``;
a push subscription is the subscriber's standing request, ``gateway.jobs.starters``),
the notice service of the feed with the subscription's purpose and legal basis, the
subjects and fields the payload carried, and ``ok`` or ``webhook-failed`` with the
error (``HTTP 503``, an httpx error's name) as reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import AuditEvent
from audit.store import append
from gateway.inbound.feeds import NOTICES
from gateway.subscriptions.models import Delivery, Subscription
from gateway.subscriptions.service import SubscriptionService

Due = tuple[Delivery, Subscription]


class DeliveryJob:
    """Push deliveries: an item is a due ``(Delivery, Subscription)`` pair; the call is
    the signed POST of its payload."""

    name = "deliveries"
    in_flight = 1  # one call at a time in this process (see ``_carried``)

    def __init__(
        self,
        subscriptions: SubscriptionService,
        max_attempts: int = 8,
        max_backoff_seconds: float = 600.0,
    ) -> None:
        self.subscriptions = subscriptions
        self.max_attempts = max_attempts
        self.max_backoff_seconds = max_backoff_seconds
        # What each claimed delivery's payload carried (subjects, fields), from its claim
        # to the record of its outcome, one call at a time in this process.
        self._carried: dict[int, tuple[list[str], list[str]]] = {}

    async def due(self, session: AsyncSession, now: datetime) -> list[Any]:
        return list(await self.subscriptions.due(session, now))

    async def claim(
        self, session: AsyncSession, item: Any, now: datetime, until: datetime
    ) -> tuple[int, Any] | None:
        delivery, sub = item
        if not await self.subscriptions.claim(session, delivery, now, until):
            return None
        payload = await self.subscriptions.payload(session, sub, delivery)
        pseudonyms = self.subscriptions.pseudonyms
        subjects = sorted({ref for row in payload["rows"] for ref in pseudonyms.of_record(row)})
        fields = sorted({field for row in payload["rows"] for field in row})
        self._carried[delivery.delivery_id] = (subjects, fields)
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
        delivery, sub = item
        await self.subscriptions.record(session, delivery, attempts, error, next_at)
        subjects, fields = self._carried.pop(delivery.delivery_id, ([], []))
        await append(session, self._event(sub, delivery, attempts, error, subjects, fields))

    def _event(
        self,
        sub: Subscription,
        delivery: Delivery,
        attempts: int,
        error: str | None,
        subjects: list[str],
        fields: list[str],
    ) -> AuditEvent:
        catalog = self.subscriptions.catalog
        service_id = NOTICES[sub.feed]
        service = catalog.services[service_id]
        return AuditEvent(
            request_id=f"delivery:{delivery.delivery_id}:attempt-{attempts}",
            client_id=sub.client_id,
            service=service_id,
            purpose=sub.purpose,
            legal_basis=service.purposes[sub.purpose].legal_basis,
            partner=service.partner,
            operation="webhook",
            subjects=subjects,
            fields=fields,
            outcome="ok" if error is None else "webhook-failed",
            reason=error,
            status=200 if error is None else 502,
        )
