"""Every statement on subscriptions and their deliveries (``subscriptions``,
``deliveries``). The pushed data a delivery carries is read through
``gateway.inbound.repository``, never from inbound's tables.

The repository runs in the caller's session and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.subscriptions.models import Delivery, Subscription


class SubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- subscriptions -----------------------------------------------------------------

    async def add(self, subscription: Subscription) -> None:
        self.session.add(subscription)
        await self.session.flush()

    async def get(self, subscription_id: str) -> Subscription | None:
        return await self.session.get(Subscription, subscription_id)

    async def active_of_feed(self, feed: str) -> Sequence[str]:
        """Ids of the active subscriptions of a feed."""
        return (
            await self.session.scalars(
                select(Subscription.subscription_id).where(
                    Subscription.feed == feed, Subscription.active.is_(True)
                )
            )
        ).all()

    # -- deliveries --------------------------------------------------------------------

    def add_delivery(self, delivery: Delivery) -> None:
        self.session.add(delivery)

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        return await self.session.get(Delivery, delivery_id)

    async def counts_by_state(self, subscription_id: str) -> dict[str, int]:
        """How many deliveries of a subscription are in each state (states with none
        are absent)."""
        rows = await self.session.execute(
            select(Delivery.state, func.count())
            .where(Delivery.subscription_id == subscription_id)
            .group_by(Delivery.state)
        )
        return {state: int(count) for state, count in rows.all()}

    async def deliveries(
        self, subscription_id: str, state: str | None, limit: int
    ) -> Sequence[Delivery]:
        """Up to ``limit`` deliveries of a subscription (in ``state`` when given), oldest
        first."""
        query = select(Delivery).where(Delivery.subscription_id == subscription_id)
        if state:
            query = query.where(Delivery.state == state)
        return (await self.session.scalars(query.order_by(Delivery.delivery_id).limit(limit))).all()

    async def acknowledge(self, subscription_id: str, delivery_id: int, now: datetime) -> bool:
        """Mark a pending delivery acknowledged; False when it was not pending."""
        done = await self.session.execute(
            update(Delivery)
            .where(
                Delivery.subscription_id == subscription_id,
                Delivery.delivery_id == delivery_id,
                Delivery.state == "pending",
            )
            .values(state="acknowledged", delivered_at=now)
        )
        return bool(getattr(done, "rowcount", 0))

    async def redeliver(self, subscription_id: str, delivery_id: int, now: datetime) -> None:
        """Make a dead delivery pending again, with a fresh round of attempts."""
        await self.session.execute(
            update(Delivery)
            .where(
                Delivery.subscription_id == subscription_id,
                Delivery.delivery_id == delivery_id,
                Delivery.state == "dead",
            )
            .values(state="pending", attempts=0, next_attempt_at=now)
        )

    async def due_pushes(self, now: datetime, limit: int) -> list[tuple[Delivery, Subscription]]:
        """Pending push deliveries due at ``now``, oldest first, with their subscription."""
        rows = await self.session.execute(
            select(Delivery, Subscription)
            .join(Subscription, Subscription.subscription_id == Delivery.subscription_id)
            .where(
                Subscription.mode == "push",
                Delivery.state == "pending",
                Delivery.next_attempt_at <= now,
            )
            .order_by(Delivery.delivery_id)
            .limit(limit)
        )
        return [(delivery, sub) for delivery, sub in rows.all()]

    async def claim(self, delivery_id: int, now: datetime, until: datetime) -> bool:
        """Postpone a due delivery to ``until`` so that only this caller sends it now;
        False when another process claimed it first."""
        claimed = await self.session.execute(
            update(Delivery)
            .where(
                Delivery.delivery_id == delivery_id,
                Delivery.state == "pending",
                Delivery.next_attempt_at <= now,
            )
            .values(next_attempt_at=until)
        )
        return bool(getattr(claimed, "rowcount", 0))

    async def record_attempt(self, delivery_id: int, values: dict[str, Any]) -> None:
        """Store the outcome of a push attempt (state, attempts, error, next attempt)."""
        await self.session.execute(
            update(Delivery).where(Delivery.delivery_id == delivery_id).values(**values)
        )

    # -- retention ---------------------------------------------------------------------

    async def purge_before(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Delete the deliveries created before ``cutoff`` (whatever their state: the
        pushed data they point at follows its own retention in inbound); how many
        (counted, not deleted, when ``dry_run``). Retention does not purge deliveries
        today; this is here for it to do so."""
        old = Delivery.created_at < cutoff
        count = int(
            await self.session.scalar(select(func.count()).select_from(Delivery).where(old)) or 0
        )
        if not dry_run and count:
            await self.session.execute(delete(Delivery).where(old))
        return count
