"""Receiving a pushed message: claim its id, stream and check its rows, keep the valid
ones sealed in chunks, answer with a signed receipt.

A message id is claimed in its own transaction before the body is read, so a resend
running at the same time sees the claim. Accepted rows are written in chunks of
``CHUNK_ROWS``, each sealed under a data key: memory stays bounded whatever the body's
size. A resend with the same id and body returns the original receipt and stores
nothing; the same id with another body is refused. A message that fails midway is
released, so the partner can send it again (it got no receipt).

Transactions: intake is the one place where a request commits in steps, by design (the
claim must be visible to a concurrent resend before the body is read, and each chunk is
committed as it is sealed so that memory and lock time stay bounded on a large body).
This service therefore opens its steps' transactions itself from the session factory it
is given; the statements are in ``gateway.inbound.repository``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.core.data_keys import DataKeyring, SealedColumn
from gateway.core.db import transaction
from gateway.core.i18n import N_, Text
from gateway.core.problems import MessageIdReused, MessageInProgress, PayloadTooLarge
from gateway.districts import DistrictTable
from gateway.inbound.feeds import Errors, Feed, RowCheck
from gateway.inbound.models import InboundChunk, InboundMessage
from gateway.inbound.reading import BodyFormat, Limits, Row, rows_of
from gateway.inbound.repository import InboundRepository
from gateway.signing_keys.service import ALGORITHM, KeyService

CHUNK_ROWS = 1000
MAX_REPORTED = 1000
STALE_AFTER = timedelta(minutes=10)


def chunk_aad(row: Any) -> bytes:
    return (
        f"inbound_chunks\x00{row['partner']}\x00{row['message_id']}\x00{row['chunk_no']}".encode()
    )


SEALED_COLUMNS = [
    SealedColumn("inbound_chunks", InboundChunk.__table__, "sealed", chunk_aad),  # type: ignore[arg-type]
]


@dataclass
class Receipt:
    """What a pushed message got: the receipt's body (``replayed`` true for a resend of
    a message received before, which stored nothing)."""

    body: dict[str, Any]

    @property
    def replayed(self) -> bool:
        return bool(self.body["replayed"])


@dataclass(frozen=True)
class PushedMessage:
    """One received message as a list of pushes shows it."""

    feed: str
    message_id: str
    body_sha256: str
    rows_accepted: int
    rows_rejected: int
    received_at: datetime


class InboundService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: DataKeyring,
        keys: KeyService,
        issuer: str,
        districts: DistrictTable,
        limits: Limits | None = None,
    ) -> None:
        self.districts = districts
        self.sessions = sessions
        self.limits = limits or Limits()
        self.keyring = keyring
        self.keys = keys
        self.issuer = issuer

    async def receive(
        self,
        feed: Feed,
        message_id: str,
        client_id: str,
        form: BodyFormat,
        stream: AsyncIterator[bytes],
        user_id: str | None = None,
    ) -> Receipt:
        """Claim ``message_id``, read the body as ``form`` says and return its receipt, or
        the original receipt (``replayed``) for a resend of the same body; the route
        chooses the status. ``user_id`` names the person who pushed it, when one did
        (an upload in the console, or ``X-User-Id``), kept with the message.

        Raises ``MessageIdReused`` for an id received before with another body,
        ``MessageInProgress`` for one being received, ``PayloadTooLarge`` for a body or
        line over :class:`Limits`, and ``BadRequest``/``UnsupportedMediaType``/
        ``ValidationFailed`` for a body that cannot be read as declared (see
        :mod:`gateway.inbound.reading`); then the id is released and nothing is kept, so
        the partner can fix the body and resend under the same id.
        """
        now = datetime.now(UTC)
        if not await self._claim(feed, message_id, client_id, user_id, now):
            return await self._resend(feed, message_id, stream)
        try:
            return await self._ingest(feed, message_id, form, stream, now)
        except BaseException:
            await self._release(feed, message_id)
            raise

    async def _release(self, feed: Feed, message_id: str) -> None:
        """Forget a message that failed midway: it got no receipt and will be resent."""
        async with transaction(self.sessions) as session:
            await InboundRepository(session).release(feed.partner, message_id)

    async def _claim(
        self, feed: Feed, message_id: str, client_id: str, user_id: str | None, now: datetime
    ) -> bool:
        try:
            async with transaction(self.sessions) as session:
                await InboundRepository(session).add_message(
                    InboundMessage(
                        partner=feed.partner,
                        message_id=message_id,
                        kind=feed.name,
                        client_id=client_id,
                        user_id=user_id,
                        state="receiving",
                        rows_accepted=0,
                        rows_rejected=0,
                        received_at=now,
                    )
                )
            return True
        except IntegrityError:
            pass
        async with transaction(self.sessions) as session:  # an abandoned upload is taken over
            return await InboundRepository(session).take_over(
                feed.partner, message_id, client_id, user_id, now - STALE_AFTER, now
            )

    async def _resend(self, feed: Feed, message_id: str, stream: AsyncIterator[bytes]) -> Receipt:
        digest = hashlib.sha256()
        size = 0
        async for block in stream:
            digest.update(block)
            size += len(block)
            if size > self.limits.max_message_bytes:
                raise PayloadTooLarge(
                    Text(
                        "a message is limited to {limit:,} bytes",
                        limit=self.limits.max_message_bytes,
                    ),
                )
        async with transaction(self.sessions) as session:
            message = await InboundRepository(session).get_message(feed.partner, message_id)
        if message is None or message.state != "accepted":
            raise MessageInProgress(
                N_("a message with this id is being received; retry shortly"),
                headers={"Retry-After": "5"},
            )
        if message.body_sha256 != digest.hexdigest():
            raise MessageIdReused(
                N_("this message id was received before with a different body"),
                extra={"errors": [{"field": "header.X-Message-Id", "message": N_("reused")}]},
            )
        return Receipt({**self._answer(message), "replayed": True})

    async def _ingest(
        self,
        feed: Feed,
        message_id: str,
        form: BodyFormat,
        stream: AsyncIterator[bytes],
        now: datetime,
    ) -> Receipt:
        digest = hashlib.sha256()
        rows = rows_of(stream, form, feed.fields, digest, self.limits)
        return await self._store(feed, message_id, rows, digest, now)

    async def receive_document(
        self,
        feed: Feed,
        message_id: str,
        client_id: str,
        body: bytes,
        rows: list[dict[str, Any]],
        check: RowCheck | None = None,
        user_id: str | None = None,
    ) -> Receipt:
        """A message that arrives whole and is read by the partner's adapter (an ISO 20022
        document): the same claims, resends, row checks and receipts as a streamed feed.
        ``check`` adds the partner's own (field, message) errors of a row to the feed's;
        ``user_id`` as for :meth:`receive`."""

        async def once() -> AsyncIterator[bytes]:
            yield body

        now = datetime.now(UTC)
        if not await self._claim(feed, message_id, client_id, user_id, now):
            return await self._resend(feed, message_id, once())
        digest = hashlib.sha256(body)

        async def numbered() -> AsyncIterator[Row]:
            for number, row in enumerate(rows, start=1):
                yield number, row, []

        try:
            return await self._store(feed, message_id, numbered(), digest, now, check)
        except BaseException:
            await self._release(feed, message_id)
            raise

    async def _store(
        self,
        feed: Feed,
        message_id: str,
        rows: AsyncIterator[Row],
        digest: Any,
        now: datetime,
        check: RowCheck | None = None,
    ) -> Receipt:
        accepted: list[dict[str, Any]] = []
        rejections: list[dict[str, Any]] = []
        counts = {"accepted": 0, "rejected": 0, "chunks": 0}
        first_row = 0

        async def flush() -> None:
            nonlocal first_row
            if not accepted:
                return
            row = {"partner": feed.partner, "message_id": message_id, "chunk_no": counts["chunks"]}
            sealed = self.keyring.encrypt(
                json.dumps(accepted, separators=(",", ":")).encode(), chunk_aad(row)
            )
            async with transaction(self.sessions) as session:
                InboundRepository(session).add_chunk(
                    InboundChunk(**row, first_row=first_row, rows=len(accepted), sealed=sealed)
                )
            counts["chunks"] += 1
            accepted.clear()

        async for number, row, read in rows:
            # The feed's checks first, then what the reader saw (an NDJSON line's keys).
            errors = read if row is None else self.row_errors(feed, row, check) + read
            if errors:
                counts["rejected"] += 1
                if len(rejections) < MAX_REPORTED:
                    rejections.append(
                        {"row": number, "errors": [{"field": f, "message": m} for f, m in errors]}
                    )
                continue
            assert row is not None
            if not accepted:
                first_row = number
            accepted.append({name: row.get(name) for name in feed.stored_fields})
            counts["accepted"] += 1
            if len(accepted) >= CHUNK_ROWS:
                await flush()
        await flush()
        body_sha256 = digest.hexdigest()
        receipt = await self._sign(feed, message_id, body_sha256, counts, now)
        async with transaction(self.sessions) as session:
            message = await InboundRepository(session).accept(
                feed.partner,
                message_id,
                body_sha256=body_sha256,
                rows_accepted=counts["accepted"],
                rows_rejected=counts["rejected"],
                receipt=receipt,
                rejections=json.dumps(rejections),
                completed_at=datetime.now(UTC),
            )
        assert message is not None
        return Receipt({**self._answer(message), "replayed": False})

    def row_errors(self, feed: Feed, row: dict[str, Any], check: RowCheck | None = None) -> Errors:
        """The (field, message) errors of a row, normalising it in place: the feed's and
        ``check``'s, in the order of the feed's fields."""
        errors = feed.check(row, self.districts)
        if check is not None:
            errors += check(row)
            order = {name: i for i, name in enumerate(feed.fields)}
            errors.sort(key=lambda error: order.get(error[0], len(order)))
        return errors

    async def _sign(
        self, feed: Feed, message_id: str, body_sha256: str, counts: dict[str, int], now: datetime
    ) -> str:
        async with transaction(self.sessions) as session:
            active = await self.keys.signing_key(session)
        payload = {
            "iss": self.issuer,
            "partner": feed.partner,
            "feed": feed.name,
            "message_id": message_id,
            "body_sha256": body_sha256,
            "rows_accepted": counts["accepted"],
            "rows_rejected": counts["rejected"],
            "received_at": now.isoformat().replace("+00:00", "Z"),
        }
        header = {"alg": ALGORITHM, "kid": active.kid, "typ": "juntos-receipt+jws"}
        return jws.serialize_compact(
            header, json.dumps(payload, sort_keys=True).encode(), active.key, algorithms=[ALGORITHM]
        )

    @staticmethod
    def _answer(message: InboundMessage) -> dict[str, Any]:
        return {
            "message_id": message.message_id,
            "feed": message.kind,
            "body_sha256": message.body_sha256,
            "rows_accepted": message.rows_accepted,
            "rows_rejected": message.rows_rejected,
            "rejections": json.loads(message.rejections or "[]"),
            "receipt": message.receipt,
        }

    async def receipt(self, feed: Feed, message_id: str) -> Receipt | None:
        """The receipt of a message of ``feed`` received whole (``replayed`` false), or
        None when there is none (unknown, still being received, or another feed's)."""
        async with transaction(self.sessions) as session:
            message = await InboundRepository(session).get_message(feed.partner, message_id)
        if message is None or message.state != "accepted" or message.kind != feed.name:
            return None
        return Receipt({**self._answer(message), "replayed": False})

    async def pushed_by(
        self, partner: str, client_id: str, user_id: str, limit: int = 50
    ) -> list[PushedMessage]:
        """The messages of ``partner`` one person pushed through ``client_id``, newest
        first (at most ``limit``): what each got, without its rejections."""
        async with transaction(self.sessions) as session:
            messages = await InboundRepository(session).pushed_by(
                partner, client_id, user_id, limit
            )
        return [
            PushedMessage(
                feed=m.kind,
                message_id=m.message_id,
                body_sha256=m.body_sha256 or "",
                rows_accepted=m.rows_accepted,
                rows_rejected=m.rows_rejected,
                received_at=m.received_at,
            )
            for m in messages
        ]

    # -- reading, for operators ----------------------------------------------------

    async def received(
        self,
        session: AsyncSession,
        limit: int = 50,
        *,
        partner: str | None = None,
        kind: str | None = None,
    ) -> list[dict[str, Any]]:
        """The newest messages first (of one partner and feed if given), each as
        :meth:`message` shows it, in the caller's session."""
        found = await InboundRepository(session).messages(limit, partner=partner, kind=kind)
        return [self._shown(m) for m in found]

    async def feed_totals(self, session: AsyncSession) -> list[dict[str, Any]]:
        """Per feed: messages kept, rows accepted and refused, last reception."""
        return await InboundRepository(session).feed_totals()

    async def message(
        self, session: AsyncSession, partner: str, message_id: str
    ) -> dict[str, Any] | None:
        """One message: its receipt's body (counts, row refusals, the signed receipt)
        plus ``partner``, ``client_id`` (who pushed it), ``state`` (``receiving`` or
        ``accepted``), ``received_at`` and ``completed_at``; None when there is none."""
        found = await InboundRepository(session).get_message(partner, message_id)
        return None if found is None else self._shown(found)

    def _shown(self, message: InboundMessage) -> dict[str, Any]:
        return {
            **self._answer(message),
            "partner": message.partner,
            "client_id": message.client_id,
            "state": message.state,
            "received_at": message.received_at,
            "completed_at": message.completed_at,
        }

    async def accepted_rows(self, feed: Feed, message_id: str) -> AsyncIterator[dict[str, Any]]:
        """The stored rows of a message, opened chunk by chunk."""
        async with transaction(self.sessions) as session:
            chunks = await InboundRepository(session).chunks(feed.partner, message_id)
            await self.keyring.ensure(session, (chunk.sealed for chunk in chunks))
        for chunk in chunks:
            aad = chunk_aad(
                {
                    "partner": chunk.partner,
                    "message_id": chunk.message_id,
                    "chunk_no": chunk.chunk_no,
                }
            )
            for row in json.loads(self.keyring.decrypt(chunk.sealed, aad)):
                yield row
