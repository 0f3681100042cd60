"""What a consent's revisions and views are made of: the canonical document, the
revision hash that chains them, and the sealed columns with their associated data.

Kept apart from the service so that the chain's definition reads in one place and can be
checked (``chain_intact``) without a database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.consent.models import Consent, ConsentRevision
from gateway.core.data_keys import SealedColumn

GRANTED, REVOKED = "granted", "revoked"
# What a consent's view, state and revision documents are made of.
_VIEWED = (
    "consent_id",
    "purposes",
    "data_categories",
    "legal_basis",
    "agreement_id",
    "agreement_version",
    "channel",
    "state",
    "granted_at",
    "expires_at",
    "revoked_at",
    "revision",
    "head_hash",
)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def revision_hash(
    consent_id: str,
    revision: int,
    action: str,
    recorded_at: datetime,
    prev_hash: str | None,
    document_digest: str,
) -> str:
    return hashlib.sha256(
        canonical(
            {
                "consent_id": consent_id,
                "revision": revision,
                "action": action,
                "recorded_at": iso(recorded_at),
                "prev_hash": prev_hash,
                "document_digest": document_digest,
            }
        )
    ).hexdigest()


def columns(consent: Consent) -> dict[str, Any]:
    return {name: getattr(consent, name) for name in _VIEWED}


def metadata(row: Mapping[str, Any]) -> dict[str, Any]:
    """The consent's terms as its revision documents and its view carry them (the
    revision hash covers them: one definition for a new row and a stored one)."""
    return {
        "id": row["consent_id"],
        "purposes": row["purposes"],
        "data_categories": row["data_categories"],
        "legal_basis": row["legal_basis"],
        "agreement_id": row["agreement_id"],
        "agreement_version": row["agreement_version"],
        "channel": row["channel"],
        "granted_at": iso(row["granted_at"]),
        "expires_at": iso(row["expires_at"]),
        "revoked_at": iso(row["revoked_at"]),
    }


def state(row: Mapping[str, Any], now: datetime | None = None) -> str:
    if row["state"] == "revoked":
        return "revoked"
    expiry = row["expires_at"]
    if expiry is not None and expiry <= (now or datetime.now(UTC)):
        return "expired"
    return "active"


def view(row: Mapping[str, Any], personal: dict[str, Any]) -> dict[str, Any]:
    return {
        **metadata(row),
        "cui": personal["cui"],
        "caregiver_dni": personal["caregiver_dni"],
        "evidence": personal["evidence"],
        "agent_id": personal["agent_id"],
        "revocation_reason": personal.get("revocation_reason"),
        "state": state(row),
        "revision": row["revision"],
        "hash": row["head_hash"],
    }


def consent_aad(row: Any) -> bytes:
    return f"consents\x00{row['consent_id']}".encode()


def revision_aad(row: Any) -> bytes:
    return f"consent_revisions\x00{row['consent_id']}\x00{row['revision']}".encode()


SEALED_COLUMNS = [
    SealedColumn("consents", Consent.__table__, "document_sealed", consent_aad),  # type: ignore[arg-type]
    SealedColumn(
        "consent_revisions",
        ConsentRevision.__table__,  # type: ignore[arg-type]
        "document_sealed",
        revision_aad,
    ),
]


def chain_intact(revisions: Sequence[ConsentRevision]) -> bool:
    """Whether these revisions (oldest first) number 1, 2, ... and each hash covers the
    previous one and its own content."""
    prev: str | None = None
    for expected, r in enumerate(revisions, start=1):
        if r.revision != expected or r.prev_hash != prev:
            return False
        recomputed = revision_hash(
            r.consent_id, r.revision, r.action, r.recorded_at, r.prev_hash, r.document_digest
        )
        if recomputed != r.hash:
            return False
        prev = r.hash
    return True
