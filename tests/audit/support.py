"""Writing and sealing events straight through the audit library, on the test database."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection
from sqlalchemy import create_engine as create_sync_engine

from audit.events import AuditEvent
from audit.sealer import Ed25519Signer, SealPolicy, SealResult, seal
from audit.store import append_many
from audit.verify import Report, verify_database
from gateway.core.db import create_engine, session_factory, sync_url, transaction

# Fixed, so that writer processes started by a test sign with the same key.
SIGNER = Ed25519Signer(
    "audit-test-1", Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"audit-test").digest())
)
KEYS = {SIGNER.key_id: SIGNER.private_key.public_key()}


def event(n: int, **changes: Any) -> AuditEvent:
    values: dict[str, Any] = {
        "request_id": f"req-{n}",
        "client_id": f"cl_{n % 3}",
        "service": "reniec.person",
        "purpose": "affiliation",
        "subjects": [f"{n:064x}"],
        "fields": ["dni", "given_names"],
        "legal_basis": "du-095-2020-art6",
    }
    values.update(changes)
    return AuditEvent(**values)


async def append_events(url: str, count: int, start: int = 0) -> None:
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            await append_many(session, [event(start + n) for n in range(count)])
    finally:
        await engine.dispose()


async def seal_all(
    url: str, policy: SealPolicy | None = None, at_us: int | None = None
) -> SealResult:
    policy = policy or SealPolicy(checkpoint_every=10, checkpoint_seconds=0.000001)
    engine = create_engine(url)
    total = SealResult()
    try:
        while True:
            async with transaction(session_factory(engine)) as session:
                result = await seal(session, SIGNER, policy, at_us)
            total.sealed += result.sealed
            total.voided += result.voided
            total.checkpoints += result.checkpoints
            total.head_seq = result.head_seq
            if not result.more:
                return total
    finally:
        await engine.dispose()


def verify(url: str, tamper: Callable[[Connection], None] | None = None) -> Report:
    """Verify, optionally after tampering inside a transaction that is rolled back."""
    engine = create_sync_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            transaction_ = conn.begin()
            try:
                if tamper is not None:
                    tamper(conn)
                return verify_database(conn, KEYS)
            finally:
                transaction_.rollback()
    finally:
        engine.dispose()


def run(coro: Any) -> Any:
    return asyncio.run(coro)
