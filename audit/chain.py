"""The canonical encoding of a stored event and the hash chain over it.

An event is stored as a few index columns (what auditors filter on) and ``body``, the
canonical JSON of everything else. Its hash covers the previous event's hash, its
sequence number, every index column and the body, so changing any stored value, or
moving an event to another sequence number, changes the hash:

    hash(n) = SHA-256( hash(n-1) || canonical(n) ),  hash(0) = 32 zero bytes

Checkpoints sign (sequence number, head hash, time) with Ed25519.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = bytes(32)
SEPARATOR = "\x1e"
# The stored columns an append writes, in order (the database adds the sequence number),
# and with it the columns the canonical encoding covers.
ROW_COLUMNS = (
    "occurred_us",
    "client_id",
    "service",
    "purpose",
    "decision",
    "outcome",
    "subjects",
    "body",
)
INDEX_COLUMNS = ("seq", *ROW_COLUMNS)
CHECKPOINT_CONTEXT = b"juntos-gateway/audit-checkpoint/v1"
MANIFEST_CONTEXT = b"juntos-gateway/audit-archive/v1"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(
    seq: int,
    occurred_us: int,
    client_id: str | None,
    service: str,
    purpose: str | None,
    decision: str,
    outcome: str,
    subjects: str,
    body: str,
) -> bytes:
    return (
        f"{seq}\x1e{occurred_us}\x1e{client_id or ''}\x1e{service}\x1e{purpose or ''}"
        f"\x1e{decision}\x1e{outcome}\x1e{subjects}\x1e{body}"
    ).encode()


def link(prev: bytes, encoded: bytes) -> bytes:
    return hashlib.sha256(prev + encoded).digest()


def row_hash(prev: bytes, row: Mapping[str, Any]) -> bytes:
    return link(prev, canonical(*(row[c] for c in INDEX_COLUMNS)))


def checkpoint_message(seq: int, head: bytes, signed_us: int) -> bytes:
    return b"%s\n%d\n%s\n%d" % (CHECKPOINT_CONTEXT, seq, head.hex().encode(), signed_us)


def manifest_message(manifest: Mapping[str, Any]) -> bytes:
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    return MANIFEST_CONTEXT + b"\n" + canonical_json(unsigned).encode()
