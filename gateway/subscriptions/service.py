"""Subscriptions: each accepted chunk of a pushed feed is owed to every subscription of
that feed, and delivered with only the fields the subscriber's purpose allows (rows of
a consent-bound purpose only for subjects with active consent).

Push subscriptions get a POST per delivery, signed with HMAC-SHA256 under the secret
given at subscription time (``X-Juntos-Signature: sha256=<hex>``), retried with
exponential backoff and marked dead after ``max_attempts``. Pull subscriptions fetch
pending deliveries and acknowledge them; an unacknowledged delivery is offered again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.catalog.models import Catalog
from gateway.consent.service import ConsentService
from gateway.core.db import transaction
from gateway.core.keyring import DataKeyring, SealedColumn
from gateway.core.problems import Conflict, NotFound
from gateway.core.pseudonyms import Pseudonymizer
from gateway.inbound.models import InboundChunk
from gateway.inbound.service import chunk_aad
from gateway.subscriptions.models import Delivery, Subscription

log = structlog.get_logger("gateway.subscriptions")

SEALED_COLUMNS = [
    SealedColumn(
        "subscriptions",
        Subscription.__table__,  # type: ignore[arg-type]
        "secret_sealed",
        lambda row: str(row["subscription_id"]).encode(),
    )
]

# Feed -> the catalog service under which programme systems receive it.
NOTICES = {
    "births": "reniec.birth-notices",
    "health-records": "minsa_his.record-notices",
    "line-changes": "osiptel.line-notices",
}
# The field of a row that names its subject, for consent checks.
SUBJECT = {
    "births": ("cui", "cui"),
    "health-records": ("cui", "cui"),
    "line-changes": ("dni", "dni"),
}


class SubscriptionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        keyring: DataKeyring,
        pseudonyms: Pseudonymizer,
        consents: ConsentService,
        max_attempts: int = 8,
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.keyring = keyring
        self.pseudonyms = pseudonyms
        self.consents = consents
        self.max_attempts = max_attempts
        self.http: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    # -- subscriptions -----------------------------------------------------------------

    async def subscribe(
        self, client_id: str, feed: str, purpose: str, mode: str, webhook_url: str | None
    ) -> dict[str, Any]:
        secret = secrets.token_urlsafe(32) if mode == "push" else None
        sid = str(uuid.uuid4())
        async with transaction(self.sessions) as session:
            session.add(
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
        view = await self.view(client_id, sid)
        if secret:
            view["secret"] = secret  # shown once, to verify X-Juntos-Signature
        return view

    async def _own(self, session: AsyncSession, client_id: str, sid: str) -> Subscription:
        sub = await session.get(Subscription, sid)
        if sub is None or sub.client_id != client_id:
            raise NotFound("no subscription with this id for this client")
        return sub

    async def view(self, client_id: str, sid: str) -> dict[str, Any]:
        async with transaction(self.sessions) as session:
            sub = await self._own(session, client_id, sid)
            counts = dict(
                (
                    await session.execute(
                        select(Delivery.state, func.count())
                        .where(Delivery.subscription_id == sid)
                        .group_by(Delivery.state)
                    )
                ).all()
            )
        return {
            "id": sub.subscription_id,
            "feed": sub.feed,
            "purpose": sub.purpose,
            "mode": sub.mode,
            "webhook_url": sub.webhook_url,
            "active": sub.active,
            "deliveries": {k: int(v) for k, v in counts.items()},
        }

    # -- fan-out -------------------------------------------------------------------------

    async def fan_out(self, feed: str, partner: str, message_id: str) -> int:
        """Owe every stored chunk of an accepted message to each subscription of its feed."""
        now = datetime.now(UTC)
        created = 0
        async with transaction(self.sessions) as session:
            subs = (
                (
                    await session.execute(
                        select(Subscription.subscription_id).where(
                            Subscription.feed == feed, Subscription.active.is_(True)
                        )
                    )
                )
                .scalars()
                .all()
            )
            chunks = (
                (
                    await session.execute(
                        select(InboundChunk.chunk_no).where(
                            InboundChunk.partner == partner, InboundChunk.message_id == message_id
                        )
                    )
                )
                .scalars()
                .all()
            )
            for sid in subs:
                for chunk_no in chunks:
                    session.add(
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
        return created

    async def _payload(self, sub: Subscription, delivery: Delivery) -> dict[str, Any]:
        async with transaction(self.sessions) as session:
            chunk = await session.get(
                InboundChunk, (delivery.partner, delivery.message_id, delivery.chunk_no)
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
            rows = json.loads(await self.keyring.open(self.sessions, chunk.sealed, aad))
        service = self.catalog.services[NOTICES[sub.feed]]
        grant = service.purposes[sub.purpose]
        withheld = 0
        if self.catalog.legal_bases[grant.legal_basis].requires_consent:
            field, kind = SUBJECT[sub.feed]
            refs = {self.pseudonyms.of(kind, str(r.get(field))) for r in rows}
            async with transaction(self.sessions) as session:
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

    async def pull(self, client_id: str, sid: str, limit: int) -> list[dict[str, Any]]:
        async with transaction(self.sessions) as session:
            sub = await self._own(session, client_id, sid)
            if sub.mode != "pull":
                raise Conflict("this subscription is delivered by webhook")
            pending = (
                (
                    await session.execute(
                        select(Delivery)
                        .where(Delivery.subscription_id == sid, Delivery.state == "pending")
                        .order_by(Delivery.delivery_id)
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
        return [await self._payload(sub, d) for d in pending]

    async def acknowledge(self, client_id: str, sid: str, delivery_id: int) -> dict[str, Any]:
        async with transaction(self.sessions) as session:
            await self._own(session, client_id, sid)
            done = await session.execute(
                update(Delivery)
                .where(
                    Delivery.subscription_id == sid,
                    Delivery.delivery_id == delivery_id,
                    Delivery.state == "pending",
                )
                .values(state="acknowledged", delivered_at=datetime.now(UTC))
            )
            if not getattr(done, "rowcount", 0):
                delivery = await session.get(Delivery, delivery_id)
                if delivery is None or delivery.subscription_id != sid:
                    raise NotFound("no such delivery for this subscription")
        return {"delivery_id": delivery_id, "state": "acknowledged"}

    async def deliveries(
        self, client_id: str, sid: str, state: str | None, limit: int
    ) -> list[dict[str, Any]]:
        async with transaction(self.sessions) as session:
            await self._own(session, client_id, sid)
            query = select(Delivery).where(Delivery.subscription_id == sid)
            if state:
                query = query.where(Delivery.state == state)
            rows = (
                (await session.execute(query.order_by(Delivery.delivery_id).limit(limit)))
                .scalars()
                .all()
            )
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

    # -- push ----------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """POST every due push delivery once; returns how many were attempted."""
        now = datetime.now(UTC)
        async with transaction(self.sessions) as session:
            due = (
                await session.execute(
                    select(Delivery, Subscription)
                    .join(Subscription, Subscription.subscription_id == Delivery.subscription_id)
                    .where(
                        Subscription.mode == "push",
                        Delivery.state == "pending",
                        Delivery.next_attempt_at <= now,
                    )
                    .order_by(Delivery.delivery_id)
                    .limit(100)
                )
            ).all()
        attempted = 0
        for delivery, sub in due:
            async with transaction(self.sessions) as session:  # claim: one process sends it
                claimed = await session.execute(
                    update(Delivery)
                    .where(
                        Delivery.delivery_id == delivery.delivery_id,
                        Delivery.state == "pending",
                        Delivery.next_attempt_at <= now,
                    )
                    .values(next_attempt_at=now + timedelta(seconds=30))
                )
            if not getattr(claimed, "rowcount", 0):
                continue
            attempted += 1
            await self._send(sub, delivery)
        return attempted

    async def _send(self, sub: Subscription, delivery: Delivery) -> None:
        payload = await self._payload(sub, delivery)
        body = json.dumps(payload, separators=(",", ":")).encode()
        assert sub.secret_sealed is not None
        assert sub.webhook_url is not None
        secret = self.keyring.decrypt(sub.secret_sealed, sub.subscription_id.encode())
        signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
        error: str | None = None
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
            if not 200 <= answer.status_code < 300:
                error = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        attempts = delivery.attempts + 1
        now = datetime.now(UTC)
        values: dict[str, Any]
        if error is None:
            values = {"state": "delivered", "attempts": attempts, "delivered_at": now}
        elif attempts >= self.max_attempts:
            values = {"state": "dead", "attempts": attempts, "last_error": error}
        else:
            delay = min(600.0, 0.5 * 2**attempts)
            values = {
                "attempts": attempts,
                "last_error": error,
                "next_attempt_at": now + timedelta(seconds=delay),
            }
        async with transaction(self.sessions) as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.delivery_id == delivery.delivery_id)
                .values(**values)
            )

    async def redeliver(self, client_id: str, sid: str, delivery_id: int) -> None:
        """Give a dead delivery another round of attempts."""
        async with transaction(self.sessions) as session:
            await self._own(session, client_id, sid)
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.subscription_id == sid,
                    Delivery.delivery_id == delivery_id,
                    Delivery.state == "dead",
                )
                .values(state="pending", attempts=0, next_attempt_at=datetime.now(UTC))
            )
