"""The audit event: one per decision and exchange, metadata and digests only.

Subjects are keyed pseudonyms (never a DNI or CUI in clear) and bodies are represented
by their SHA-256 digests and sizes, never by their content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from audit.chain import ROW_COLUMNS, canonical_json

# Fields kept in the canonical JSON body; the others are index columns.
BODY_FIELDS = (
    "request_id",
    "user_id",
    "roles",
    "legal_basis",
    "partner",
    "operation",
    "fields",
    "reason",
    "status",
    "latency_ms",
    "request_digest",
    "response_digest",
    "request_bytes",
    "response_bytes",
)


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


@dataclass
class AuditEvent:
    request_id: str
    client_id: str | None
    service: str
    purpose: str | None
    decision: str = "allowed"  # allowed | denied
    outcome: str = "ok"  # ok | denied | partner error slug | error
    reason: str | None = None
    user_id: str | None = None
    roles: list[str] = field(default_factory=list)
    legal_basis: str | None = None
    partner: str | None = None
    operation: str | None = None
    subjects: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    status: int = 200
    latency_ms: float = 0.0
    request_digest: str | None = None
    response_digest: str | None = None
    request_bytes: int = 0
    response_bytes: int = 0
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_values(self) -> tuple[Any, ...]:
        """The stored form, in ``ROW_COLUMNS`` order: index columns and the canonical
        body (no sequence number: the database assigns it on insert)."""
        return (
            to_us(self.occurred_at),
            self.client_id,
            self.service,
            self.purpose,
            self.decision,
            self.outcome,
            " ".join(self.subjects),
            canonical_json({name: getattr(self, name) for name in BODY_FIELDS}),
        )

    def as_row(self) -> dict[str, Any]:
        return dict(zip(ROW_COLUMNS, self.as_values(), strict=True))


def decode(row: Any) -> dict[str, Any]:
    """A stored row as one flat event (sequence, time, index columns, body fields)."""
    event: dict[str, Any] = {
        "seq": row["seq"],
        "occurred_at": from_us(row["occurred_us"]),
        "client_id": row["client_id"],
        "service": row["service"],
        "purpose": row["purpose"],
        "decision": row["decision"],
        "outcome": row["outcome"],
        "subjects": row["subjects"].split() if row["subjects"] else [],
    }
    event.update(json.loads(row["body"]))
    return event
