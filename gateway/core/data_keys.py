"""Data keys for personal data at rest (envelope encryption).

Not to be confused with token signing keys (``gateway.signing_keys``) or audit checkpoint
keys (``gateway.auditing.checkpoint_keys``).

Personal data the gateway stores is sealed with AES-256-GCM under a *data key*. Data keys
have ids and live in the database wrapped (sealed) by the master key, so every process
reads the same set. The newest key seals new values; every key keeps opening what it
sealed, so ``keys rotate-data`` never makes old records unreadable, and ``keys
reencrypt`` moves old ciphertexts to the newest key.

Ciphertext layout: version byte ``1`` | key-id length | key id (ASCII) | 12-byte nonce |
AES-GCM ciphertext and tag. Associated data binds each value to the record and column
it belongs to, so a ciphertext moved to another row does not open.

The table is ``gateway.core.models.DataKey``; its statements, and the batched rewrite of
a sealed column, are in ``gateway.core.repository``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.core import repository
from gateway.core.crypto import SealError, SecretBox
from gateway.core.db import transaction
from gateway.core.models import DataKey

VERSION = 1
NONCE_BYTES = 12


class UnknownDataKey(SealError):
    """The value was sealed under a data key this process has not loaded."""


def _new_id() -> str:
    return f"dk-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


class DataKeyring:
    def __init__(self, master_key: bytes) -> None:
        self._wrap = SecretBox(master_key, "data-keys")
        self._keys: dict[str, AESGCM] = {}
        self._current: str | None = None

    @property
    def current_key_id(self) -> str:
        if self._current is None:
            raise SealError("no data key loaded: run `juntos-gateway db upgrade` and start again")
        return self._current

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def install(self, key_id: str, raw: bytes) -> None:
        """Hold an unwrapped key and make it current (loading, or offline tools)."""
        self._keys[key_id] = AESGCM(raw)
        self._current = key_id

    async def load(self, session: AsyncSession) -> None:
        """Read every data key; create the first one when the database has none."""
        rows = await repository.data_keys(session)
        if not rows:
            await self.add(session)
            return
        for row in rows:
            if row.key_id not in self._keys:
                raw = self._wrap.open(row.wrapped, row.key_id.encode())
                self._keys[row.key_id] = AESGCM(raw)
        self._current = rows[-1].key_id

    async def ensure(self, session: AsyncSession, blobs: Iterable[bytes]) -> None:
        """Load the keys in the caller's ``session`` when any of ``blobs`` was sealed under
        a key this process does not hold yet (added by another process since it started),
        so that ``decrypt`` opens them afterwards without a session."""
        if any(self.key_id_of(blob) not in self._keys for blob in blobs):
            await self.load(session)

    async def add(self, session: AsyncSession) -> str:
        """A new data key, current from now on in this process (others on their next load)."""
        key_id = _new_id()
        raw = AESGCM.generate_key(bit_length=256)
        await repository.add_data_key(
            session,
            DataKey(
                key_id=key_id,
                wrapped=self._wrap.seal(raw, key_id.encode()),
                created_at=datetime.now(UTC),
            ),
        )
        self._keys[key_id] = AESGCM(raw)
        self._current = key_id
        return key_id

    def encrypt(self, plaintext: bytes, associated: bytes) -> bytes:
        key_id = self.current_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[key_id].encrypt(nonce, plaintext, associated)
        kid = key_id.encode()
        return bytes([VERSION, len(kid)]) + kid + nonce + sealed

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        if len(blob) < 2 or blob[0] != VERSION:
            raise SealError("not a data-key ciphertext")
        return blob[2 : 2 + blob[1]].decode()

    def decrypt(self, blob: bytes, associated: bytes) -> bytes:
        key_id = self.key_id_of(blob)
        aead = self._keys.get(key_id)
        if aead is None:
            raise UnknownDataKey(f"data key {key_id} is not loaded")
        start = 2 + blob[1]
        try:
            return aead.decrypt(
                blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :], associated
            )
        except InvalidTag:
            raise SealError("value does not open: altered, or moved from its record") from None

    async def open(self, session: AsyncSession, blob: bytes, associated: bytes) -> bytes:
        """``decrypt``, loading in the caller's ``session`` the keys added by another
        process since this one started. Raises ``SealError`` (``UnknownDataKey`` when
        the key is in no database row either)."""
        try:
            return self.decrypt(blob, associated)
        except UnknownDataKey:
            await self.load(session)
            return self.decrypt(blob, associated)


@dataclass(frozen=True)
class SealedColumn:
    """A column holding data-key ciphertexts, and how its associated data is formed."""

    name: str
    table: Table
    column: str
    aad: Callable[[Any], bytes]


async def reencrypt(
    sessions: async_sessionmaker[AsyncSession],
    keyring: DataKeyring,
    columns: Iterable[SealedColumn],
    batch: int = 500,
) -> dict[str, int]:
    """Re-seal every value not under the current data key; counts per column.

    The ``keys reencrypt`` command: a batch job run from the CLI, it owns its
    transactions (one per batch of ``batch`` rows, so a long rewrite commits as it goes
    and a failure keeps what was done)."""
    async with transaction(sessions) as session:
        await keyring.load(session)
    current = keyring.current_key_id
    counts: dict[str, int] = {}
    for sealed in columns:
        done, offset = 0, 0
        while True:
            async with transaction(sessions) as session:
                rows = await repository.sealed_rows(
                    session, sealed.table, sealed.column, batch, offset
                )
                for row in rows:
                    blob = row[sealed.column]
                    if keyring.key_id_of(blob) == current:
                        continue
                    aad = sealed.aad(row)
                    fresh = keyring.encrypt(keyring.decrypt(blob, aad), aad)
                    await repository.reseal(session, sealed.table, row, sealed.column, fresh)
                    done += 1
            if len(rows) < batch:
                break
            offset += batch
        counts[sealed.name] = done
    return counts
