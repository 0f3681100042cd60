"""Claiming, replaying and completing idempotency keys, shared by every process.

A key is claimed by inserting a pending record in its own short transaction, so a
concurrent request with the same key (in this process or another) sees the claim at
once. The answer is stored, sealed, in the transaction of the call; a failed call
releases the claim so the caller may try again. A claim left pending by a crash is taken
over after ``STALE_AFTER``.

Transactions: the claim and the release are the service's own short transactions, opened
from the session factory it is given, by design: a claim must be visible to a concurrent
request before the call runs, and a release must outlive the rollback of the failed
request it follows. Storing the answer (``complete``) joins the caller's transaction.
Statements are in ``gateway.idempotency.repository``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.core.data_keys import DataKeyring, SealedColumn
from gateway.core.db import transaction
from gateway.core.i18n import N_
from gateway.core.problems import IdempotencyInProgress, IdempotencyKeyReused
from gateway.core.pseudonyms import Pseudonymizer
from gateway.idempotency.models import IdempotencyRecord
from gateway.idempotency.repository import IdempotencyRepository

STALE_AFTER = timedelta(seconds=60)


def _aad(row: Any) -> bytes:
    return f"idempotency_keys\x00{row['client_id']}\x00{row['key']}".encode()


SEALED_COLUMNS = [
    SealedColumn(
        "idempotency_keys",
        IdempotencyRecord.__table__,  # type: ignore[arg-type]
        "response_sealed",
        _aad,
    )
]


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


class IdempotencyService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: DataKeyring,
        pseudonyms: Pseudonymizer,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.pseudonyms = pseudonyms

    def ref(self, key: str) -> str:
        """Keys are chosen by clients and might carry an identifier: stored keyed-hashed."""
        return self.pseudonyms.of("idempotency-key", key)

    async def claim(self, client_id: str, key: str, digest: str) -> Replay | None:
        """None when this request owns the key; a Replay when it was answered before."""
        return await self._claim(client_id, self.ref(key), digest)

    async def _claim(self, client_id: str, key: str, digest: str) -> Replay | None:
        now = datetime.now(UTC)
        try:
            async with transaction(self.sessions) as session:
                await IdempotencyRepository(session).add(
                    IdempotencyRecord(
                        client_id=client_id, key=key, request_digest=digest, created_at=now
                    )
                )
            return None
        except IntegrityError:
            pass
        async with transaction(self.sessions) as session:
            repo = IdempotencyRepository(session)
            record = await repo.get(client_id, key)
            if record is None:  # released meanwhile: try once more
                return await self._claim(client_id, key, digest)
            if record.request_digest != digest:
                raise IdempotencyKeyReused(
                    N_("this Idempotency-Key was used with a different request body"),
                    extra={
                        "errors": [{"field": "header.idempotency-key", "message": N_("reused")}]
                    },
                )
            if record.completed_at is not None and record.response_sealed is not None:
                plain = await self.keyring.open(
                    session,
                    record.response_sealed,
                    _aad({"client_id": client_id, "key": key}),
                )
                body = json.loads(plain)
                return Replay(int(record.status_code or 200), body)
            if await repo.take_over(client_id, key, now - STALE_AFTER, now):
                return None
        raise IdempotencyInProgress(
            N_("a request with this Idempotency-Key is still in progress; retry shortly"),
            headers={"Retry-After": "1"},
        )

    async def complete(
        self, session: AsyncSession, client_id: str, key: str, status: int, body: dict[str, Any]
    ) -> None:
        key = self.ref(key)
        aad = _aad({"client_id": client_id, "key": key})
        sealed = self.keyring.encrypt(json.dumps(body).encode(), aad)
        await IdempotencyRepository(session).complete(
            client_id, key, status, sealed, datetime.now(UTC)
        )

    async def release(self, client_id: str, key: str) -> None:
        async with transaction(self.sessions) as session:
            await IdempotencyRepository(session).release(client_id, self.ref(key))
