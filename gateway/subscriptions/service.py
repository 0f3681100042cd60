"""Subscriptions: each accepted chunk of a pushed feed is owed to every subscription of
that feed, and delivered with only the fields the subscriber's purpose allows (rows of
a consent-bound purpose only for subjects with active consent).

Push subscriptions get a POST per delivery, signed with HMAC-SHA256 under the secret
given at subscription time (``X-Juntos-Signature: sha256=<hex>``), retried with
exponential backoff and marked dead after a number of attempts by the job runner
(``gateway.subscriptions.delivery.DeliveryJob``). Pull subscriptions fetch
pending deliveries and acknowledge them; an unacknowledged delivery is offered again.

Every method works in the caller's session and never commits: the request's for the API,
the job runner's (``gateway.subscriptions.delivery``) for pushes. Statements are in
``gateway.subscriptions.repository``; the pushed rows are read through inbound's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.catalog.models import Catalog
from gateway.consent.service import ConsentService
from gateway.core.data_keys import DataKeyring, SealedColumn
from gateway.core.i18n import N_
from gateway.core.problems import Conflict, NotFound
from gateway.core.pseudonyms import Pseudonymizer
from gateway.inbound.feeds import NOTICES
from gateway.inbound.repository import InboundRepository
from gateway.inbound.service import chunk_aad
from gateway.subscriptions.models import Delivery, Subscription
from gateway.subscriptions.repository import SubscriptionRepository

log = structlog.get_logger("gateway.subscriptions")

SEALED_COLUMNS = [
    SealedColumn(
        "subscriptions",
        Subscription.__table__,  # type: ignore[arg-type]
        "secret_sealed",
        lambda row: str(row["subscription_id"]).encode(),
    )
]

# The field of a row that names its subject, for consent checks.
SUBJECT = {
    "births": ("cui", "cui"),
    "health-records": ("cui", "cui"),
    "line-changes": ("dni", "dni"),
}


class SubscriptionService:
    def __init__(
        self,
        catalog: Catalog,
        keyring: DataKeyring,
        pseudonyms: Pseudonymizer,
        consents: ConsentService,
    ) -> None:
        self.catalog = catalog
        self.keyring = keyring
        self.pseudonyms = pseudonyms
        self.consents = consents
        self.http: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    # -- subscriptions -----------------------------------------------------------------

    async def subscribe(
        self,
        session: AsyncSession,
        client_id: str,
        feed: str,
        purpose: str,
        mode: str,
        webhook_url: str | None,
    ) -> dict[str, Any]:
        """Record a subscription; its view, with the webhook secret (shown this once)
        for a push subscription."""
        secret = secrets.token_urlsafe(32) if mode == "push" else None
        sid = str(uuid.uuid4())
        await SubscriptionRepository(session).add(
            Subscription(
                subscription_id=sid,
                client_id=client_id,
                feed=feed,
                purpose=purpose,
                mode=mode,
                webhook_url=webhook_url,
                secret_sealed=self.keyring.encrypt(secret.encode(), sid.encode())
                if secret
                else None,
                active=True,
                created_at=datetime.now(UTC),
            )
        )
        view = await self.view(session, client_id, sid)
        if secret:
            view["secret"] = secret  # shown once, to verify X-Juntos-Signature
        return view

    @staticmethod
    async def _own(repository: SubscriptionRepository, client_id: str, sid: str) -> Subscription:
        sub = await repository.get(sid)
        if sub is None or sub.client_id != client_id:
            raise NotFound(N_("no subscription with this id for this client"))
        return sub

    async def view(self, session: AsyncSession, client_id: str, sid: str) -> dict[str, Any]:
        """A subscription of this client and its deliveries counted by state; raises
        ``NotFound`` for another client's or an unknown id."""
        repository = SubscriptionRepository(session)
        sub = await self._own(repository, client_id, sid)
        counts = await repository.counts_by_state(sid)
        return {
            "id": sub.subscription_id,
            "feed": sub.feed,
            "purpose": sub.purpose,
            "mode": sub.mode,
            "webhook_url": sub.webhook_url,
            "active": sub.active,
            "deliveries": counts,
        }

    # -- fan-out -------------------------------------------------------------------------

    async def fan_out(self, session: AsyncSession, feed: str, partner: str, message_id: str) -> int:
        """Owe every stored chunk of an accepted message to each subscription of its feed;
        how many deliveries were created."""
        now = datetime.now(UTC)
        created = 0
        repository = SubscriptionRepository(session)
        subs = await repository.active_of_feed(feed)
        chunks = await InboundRepository(session).chunk_numbers(partner, message_id)
        for sid in subs:
            for chunk_no in chunks:
                repository.add_delivery(
                    Delivery(
                        subscription_id=sid,
                        partner=partner,
                        message_id=message_id,
                        chunk_no=chunk_no,
                        state="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                created += 1
        await session.flush()
        return created

    async def payload(
        self, session: AsyncSession, sub: Subscription, delivery: Delivery
    ) -> dict[str, Any]:
        """What a delivery carries: the chunk's rows projected to the purpose's fields
        (rows without consent withheld and counted when the purpose rests on consent)."""
        chunk = await InboundRepository(session).chunk(
            delivery.partner, delivery.message_id, delivery.chunk_no
        )
        rows: list[dict[str, Any]] = []
        if chunk is not None:
            aad = chunk_aad(
                {
                    "partner": chunk.partner,
                    "message_id": chunk.message_id,
                    "chunk_no": chunk.chunk_no,
                }
            )
            rows = json.loads(await self.keyring.open(session, chunk.sealed, aad))
        service = self.catalog.services[NOTICES[sub.feed]]
        grant = service.purposes[sub.purpose]
        withheld = 0
        if self.catalog.legal_bases[grant.legal_basis].requires_consent:
            field, kind = SUBJECT[sub.feed]
            refs = {self.pseudonyms.of(kind, str(r.get(field))) for r in rows}
            covered = await self.consents.covered(
                session, sorted(refs), sub.purpose, service.data_category
            )
            kept = [r for r in rows if self.pseudonyms.of(kind, str(r.get(field))) in covered]
            withheld = len(rows) - len(kept)
            rows = kept
        return {
            "subscription_id": sub.subscription_id,
            "delivery_id": delivery.delivery_id,
            "feed": sub.feed,
            "message_id": delivery.message_id,
            "chunk": delivery.chunk_no,
            "rows": [{k: r.get(k) for k in grant.fields} for r in rows],
            "withheld_without_consent": withheld,
        }

    # -- pull ----------------------------------------------------------------------------

    async def pull(
        self, session: AsyncSession, client_id: str, sid: str, limit: int
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` pending deliveries of a pull subscription, with their rows;
        raises ``Conflict`` for a push subscription."""
        repository = SubscriptionRepository(session)
        sub = await self._own(repository, client_id, sid)
        if sub.mode != "pull":
            raise Conflict(N_("this subscription is delivered by webhook"))
        pending = await repository.deliveries(sid, "pending", limit)
        return [await self.payload(session, sub, d) for d in pending]

    async def acknowledge(
        self, session: AsyncSession, client_id: str, sid: str, delivery_id: int
    ) -> dict[str, Any]:
        """Acknowledge a pending delivery (again: no change); raises ``NotFound`` for a
        delivery of another subscription."""
        repository = SubscriptionRepository(session)
        await self._own(repository, client_id, sid)
        if not await repository.acknowledge(sid, delivery_id, datetime.now(UTC)):
            delivery = await repository.get_delivery(delivery_id)
            if delivery is None or delivery.subscription_id != sid:
                raise NotFound(N_("no such delivery for this subscription"))
        return {"delivery_id": delivery_id, "state": "acknowledged"}

    async def deliveries(
        self, session: AsyncSession, client_id: str, sid: str, state: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Status of up to ``limit`` deliveries (in ``state`` when given), oldest first."""
        repository = SubscriptionRepository(session)
        await self._own(repository, client_id, sid)
        rows = await repository.deliveries(sid, state, limit)
        return [
            {
                "delivery_id": d.delivery_id,
                "message_id": d.message_id,
                "chunk": d.chunk_no,
                "state": d.state,
                "attempts": d.attempts,
                "last_error": d.last_error,
            }
            for d in rows
        ]

    async def redeliver(
        self, session: AsyncSession, client_id: str, sid: str, delivery_id: int
    ) -> None:
        """Give a dead delivery another round of attempts."""
        repository = SubscriptionRepository(session)
        await self._own(repository, client_id, sid)
        await repository.redeliver(sid, delivery_id, datetime.now(UTC))

    # -- push (steps of the runner's delivery job) -----------------------------------------------

    async def due(
        self, session: AsyncSession, now: datetime, limit: int = 100
    ) -> list[tuple[Delivery, Subscription]]:
        """Push deliveries due at ``now``, oldest first, with their subscription."""
        return await SubscriptionRepository(session).due_pushes(now, limit)

    async def claim(
        self, session: AsyncSession, delivery: Delivery, now: datetime, until: datetime
    ) -> bool:
        """Take a due delivery until ``until`` so one process sends it; False when
        another did first."""
        return await SubscriptionRepository(session).claim(delivery.delivery_id, now, until)

    async def send(
        self, sub: Subscription, delivery: Delivery, payload: dict[str, Any]
    ) -> str | None:
        """POST a delivery's payload, signed; the error (``HTTP 503``, an httpx error's
        name) or None when the webhook answered 2xx. No database work."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        assert sub.secret_sealed is not None
        assert sub.webhook_url is not None
        secret = self.keyring.decrypt(sub.secret_sealed, sub.subscription_id.encode())
        signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=10.0)
        try:
            answer = await self.http.post(
                sub.webhook_url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Juntos-Signature": f"sha256={signature}",
                    "X-Juntos-Delivery": str(delivery.delivery_id),
                },
            )
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if not 200 <= answer.status_code < 300:
            return f"HTTP {answer.status_code}"
        return None

    async def record(
        self,
        session: AsyncSession,
        delivery: Delivery,
        attempts: int,
        error: str | None,
        next_at: datetime | None,
    ) -> None:
        """Store an attempt's outcome with the ``attempts`` made so far: delivered
        (``error`` None), due again at ``next_at``, or dead (``next_at`` None). The job
        runner decides which."""
        values: dict[str, Any] = {"attempts": attempts}
        if error is None:
            values |= {"state": "delivered", "delivered_at": datetime.now(UTC)}
        elif next_at is None:
            values |= {"state": "dead", "last_error": error}
        else:
            values |= {"last_error": error, "next_attempt_at": next_at}
        await SubscriptionRepository(session).record_attempt(delivery.delivery_id, values)
