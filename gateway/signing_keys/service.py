"""ES256 signing keys for access tokens.

Keys live in the database so every gateway process signs and verifies with the same set.
The private half is sealed under the master key. Rotation adds a key and retires the
others: a retired key signs nothing new but stays published, and keeps verifying, for one
token lifetime plus a margin, so tokens already issued stay valid until they expire.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.crypto import SecretBox
from gateway.signing_keys.models import SigningKey
from gateway.signing_keys.repository import SigningKeyRepository

ALGORITHM = "ES256"
PUBLISH_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    key: ECKey


class KeyService:
    def __init__(self, box: SecretBox, token_ttl: timedelta) -> None:
        self.box = box
        self.token_ttl = token_ttl
        # A kid's public key never changes, so caching it is always correct.
        self._public: dict[str, ECKey] = {}

    def forget_public_keys(self) -> None:
        """Drop the cached public keys (the signing keys changed in the database)."""
        self._public.clear()

    async def create(self, session: AsyncSession) -> SigningKey:
        now = datetime.now(UTC)
        kid = f"{now:%Y%m%d}-{secrets.token_hex(4)}"
        key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})
        record = SigningKey(
            kid=kid,
            algorithm=ALGORITHM,
            public_jwk=dict(key.as_dict(private=False)),
            private_key_sealed=self.box.seal(key.as_pem(private=True), kid.encode()),
            created_at=now,
        )
        await SigningKeyRepository(session).add(record)
        return record

    async def ensure(self, session: AsyncSession) -> SigningKey:
        existing = await SigningKeyRepository(session).newest_active()
        return existing or await self.create(session)

    async def rotate(self, session: AsyncSession) -> SigningKey:
        record = await self.create(session)
        await SigningKeyRepository(session).retire_all_except(record.kid, record.created_at)
        return record

    async def signing_key(self, session: AsyncSession) -> ActiveKey:
        record = await self.ensure(session)
        pem = self.box.open(record.private_key_sealed, record.kid.encode())
        return ActiveKey(record.kid, ECKey.import_key(pem, {"kid": record.kid}))

    async def public_key(self, session: AsyncSession, kid: str) -> ECKey | None:
        cached = self._public.get(kid)
        if cached is not None:
            return cached
        record = await SigningKeyRepository(session).get(kid)
        if record is None or record.algorithm != ALGORITHM:
            return None
        key = ECKey.import_key(record.public_jwk)
        self._public[kid] = key
        return key

    async def listing(self, session: AsyncSession) -> list[dict[str, Any]]:
        """Every key, oldest first: ``kid``, ``algorithm``, ``created_at``,
        ``retired_at`` and ``state``: ``active`` (signs new tokens), ``published``
        (retired, still verifies tokens issued before it retired) or ``withdrawn``
        (retired longer than a token lives, no longer published)."""
        cutoff = datetime.now(UTC) - self.token_ttl - PUBLISH_MARGIN
        out = []
        for record in await SigningKeyRepository(session).all():
            if record.retired_at is None:
                state = "active"
            elif record.retired_at > cutoff:
                state = "published"
            else:
                state = "withdrawn"
            out.append(
                {
                    "kid": record.kid,
                    "algorithm": record.algorithm,
                    "created_at": record.created_at,
                    "retired_at": record.retired_at,
                    "state": state,
                }
            )
        return out

    async def jwks(self, session: AsyncSession) -> dict[str, list[dict[str, Any]]]:
        cutoff = datetime.now(UTC) - self.token_ttl - PUBLISH_MARGIN
        records = await SigningKeyRepository(session).published(cutoff)
        return {"keys": [dict(r.public_jwk) for r in records]}
