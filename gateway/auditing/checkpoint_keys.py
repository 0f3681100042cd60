"""Ed25519 keys that sign audit checkpoints and archive manifests (not token signing keys,
``gateway.signing_keys``, nor data keys, ``gateway.core.data_keys``).

The private half is stored sealed under the master key; public keys are published at
``GET /v1/audit/keys`` (base64url of the 32 raw bytes) so anyone can verify offline.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from audit.sealer import Ed25519Signer, now_us
from gateway.auditing import repository
from gateway.core.crypto import SecretBox

RAW = serialization.Encoding.Raw


def encode_public(key: Ed25519PublicKey) -> str:
    return (
        base64.urlsafe_b64encode(key.public_bytes(RAW, serialization.PublicFormat.Raw))
        .decode()
        .rstrip("=")
    )


class AuditKeys:
    def __init__(self, master_key: bytes) -> None:
        self.box = SecretBox(master_key, "audit-keys")

    def _signer(self, row: Any) -> Ed25519Signer:
        raw = self.box.open(bytes(row["private_sealed"]), row["key_id"].encode())
        return Ed25519Signer(row["key_id"], Ed25519PrivateKey.from_private_bytes(raw))

    def _new_row(self) -> dict[str, Any]:
        key_id = f"audit-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(
            RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return {
            "key_id": key_id,
            "public_key": private.public_key().public_bytes(RAW, serialization.PublicFormat.Raw),
            "private_sealed": self.box.seal(raw, key_id.encode()),
            "created_us": now_us(),
        }

    async def signer(self, session: AsyncSession) -> Ed25519Signer:
        """The newest key, created when there is none."""
        row = await repository.newest_key(session)
        if row is None:
            values = self._new_row()
            await repository.add_key(session, values)
            return self._signer(values)
        return self._signer(row)

    async def rotate(self, session: AsyncSession) -> str:
        values = self._new_row()
        await repository.add_key(session, values)
        return str(values["key_id"])

    def signer_sync(self, conn: Connection) -> Ed25519Signer:
        row = repository.newest_key_sync(conn)
        if row is None:
            values = self._new_row()
            repository.add_key_sync(conn, values)
            return self._signer(values)
        return self._signer(row)


def public_keys_sync(conn: Connection) -> dict[str, Ed25519PublicKey]:
    return {
        row["key_id"]: Ed25519PublicKey.from_public_bytes(bytes(row["public_key"]))
        for row in repository.keys_sync(conn)
    }


async def published_keys(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await repository.keys(session)
    return [
        {
            "key_id": r["key_id"],
            "algorithm": "Ed25519",
            "public_key": base64.urlsafe_b64encode(bytes(r["public_key"])).decode().rstrip("="),
            "created_at": datetime.fromtimestamp(r["created_us"] / 1e6, UTC).isoformat(),
        }
        for r in rows
    ]
