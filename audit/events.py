"""The audit event: one per decision and exchange, metadata and digests only.

Subjects are keyed pseudonyms (never a DNI or CUI in clear) and bodies are represented
by their SHA-256 digests and sizes, never by their content.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


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

    def as_row(self) -> dict[str, Any]:
        return asdict(self)
