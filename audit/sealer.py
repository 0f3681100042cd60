"""Chaining stored events in sequence order and signing checkpoints.

Appends never wait for each other: each insert takes the next sequence number from the
database and commits on its own (alone, in a group commit or with the exchange it
records). The sealer then walks the events after the chain's head in sequence order and
writes one ``audit_chain`` row per event, ``hash(n) = SHA-256(hash(n-1) || event n)``.

Order and completeness:
- One sealer at a time: on PostgreSQL a transaction-scoped advisory lock; on SQLite the
  database's single writer. The chain's primary key makes a fork impossible even if two
  sealers raced: the second insert of a sequence number fails and its round rolls back.
- The sealer stops at the first missing sequence number: a transaction that took the
  number may still commit. A number still missing when the event after it is older than
  the grace period belonged to a transaction that rolled back (or to a sequence jump
  after a crash); the sealer then writes a *void* event under that number, so the chain
  stays dense and verification can call any later gap a deletion. Should the
  straggler ever try to commit, its insert collides with the void event and fails, and
  the exchange fails with it (fail closed).
- An event waits at most one sealing interval to be chained when there is no gap, and
  the grace period when there is one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from audit.chain import GENESIS, canonical_json, checkpoint_message, row_hash
from audit.store import audit_archives, audit_chain, audit_checkpoints, audit_events

ADVISORY_LOCK = 0x4A554E544F53  # one sealer per PostgreSQL database


class Signer(Protocol):
    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class Ed25519Signer:
    key_id: str
    private_key: Ed25519PrivateKey

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @classmethod
    def generate(cls, key_id: str) -> Ed25519Signer:
        return cls(key_id, Ed25519PrivateKey.generate())


@dataclass(frozen=True)
class SealPolicy:
    checkpoint_every: int = 1000
    checkpoint_seconds: float = 10.0
    gap_grace_seconds: float = 30.0
    batch: int = 5000


@dataclass
class SealResult:
    sealed: int = 0
    voided: int = 0
    checkpoints: list[int] = field(default_factory=list)
    head_seq: int = 0
    more: bool = False
    locked_out: bool = False


def now_us() -> int:
    return time.time_ns() // 1000


def void_row(seq: int, at_us: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "occurred_us": at_us,
        "client_id": None,
        "service": "audit.void",
        "purpose": None,
        "decision": "void",
        "outcome": "sequence-gap",
        "subjects": "",
        "body": canonical_json(
            {"reason": "no event was committed under this sequence number in time"}
        ),
    }


async def chain_head(session: AsyncSession) -> tuple[int, bytes]:
    """The newest chained sequence number and its hash (from the last archive when every
    chained event has been archived; genesis when nothing was ever chained)."""
    row = (
        await session.execute(
            select(audit_chain.c.seq, audit_chain.c.hash)
            .order_by(audit_chain.c.seq.desc())
            .limit(1)
        )
    ).first()
    if row is not None:
        return int(row[0]), bytes(row[1])
    archived = (
        await session.execute(
            select(audit_archives.c.last_seq, audit_archives.c.last_hash)
            .order_by(audit_archives.c.last_seq.desc())
            .limit(1)
        )
    ).first()
    if archived is not None:
        return int(archived[0]), bytes(archived[1])
    return 0, GENESIS


async def seal(
    session: AsyncSession, signer: Signer, policy: SealPolicy, at_us: int | None = None
) -> SealResult:
    """One sealing round in the caller's transaction."""
    at_us = at_us or now_us()
    if session.get_bind().dialect.name == "postgresql":
        locked = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK}
        )
        if not locked:
            return SealResult(locked_out=True)
    head_seq, head = await chain_head(session)
    last_cp = (
        await session.execute(
            select(audit_checkpoints.c.seq, audit_checkpoints.c.signed_us)
            .order_by(audit_checkpoints.c.seq.desc())
            .limit(1)
        )
    ).first()
    last_cp_seq, last_cp_us = (int(last_cp[0]), int(last_cp[1])) if last_cp else (0, 0)
    rows = (
        (
            await session.execute(
                select(audit_events)
                .where(audit_events.c.seq > head_seq)
                .order_by(audit_events.c.seq)
                .limit(policy.batch)
            )
        )
        .mappings()
        .all()
    )
    result = SealResult(head_seq=head_seq, more=len(rows) == policy.batch)
    chained: list[dict[str, Any]] = []
    voids: list[dict[str, Any]] = []
    checkpoints: list[dict[str, Any]] = []
    since_cp = head_seq - last_cp_seq
    grace_us = int(policy.gap_grace_seconds * 1_000_000)

    def add(row: Any) -> None:
        nonlocal head, since_cp
        head = row_hash(head, row)
        chained.append({"seq": row["seq"], "hash": head})
        since_cp += 1
        if since_cp >= policy.checkpoint_every:
            checkpoints.append(_checkpoint(signer, row["seq"], head, at_us))
            since_cp = 0

    expected = head_seq + 1
    for row in rows:
        if row["seq"] != expected:
            if at_us - row["occurred_us"] < grace_us:
                result.more = False
                break
            for missing in range(expected, row["seq"]):
                void = void_row(missing, at_us)
                voids.append(void)
                add(void)
            expected = row["seq"]
        add(row)
        expected += 1
    # Whatever is chained beyond the last checkpoint is signed once the interval has passed.
    if since_cp > 0 and at_us - last_cp_us >= policy.checkpoint_seconds * 1e6:
        checkpoints.append(
            _checkpoint(signer, chained[-1]["seq"] if chained else head_seq, head, at_us)
        )
    if voids:
        await session.execute(insert(audit_events), voids)
    if chained:
        await session.execute(insert(audit_chain), chained)
    if checkpoints:
        await session.execute(insert(audit_checkpoints), checkpoints)
    result.sealed = len(chained) - len(voids)
    result.voided = len(voids)
    result.checkpoints = [c["seq"] for c in checkpoints]
    result.head_seq = chained[-1]["seq"] if chained else head_seq
    return result


def _checkpoint(signer: Signer, seq: int, head: bytes, at_us: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "head_hash": head,
        "signed_us": at_us,
        "key_id": signer.key_id,
        "signature": signer.sign(checkpoint_message(seq, head, at_us)),
    }
