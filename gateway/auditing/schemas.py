"""The answers of the auditors' API as the OpenAPI contract describes them (see
``gateway.calls.answers`` for how answer models document, not serialise)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.calls.answers import NEXT_CURSOR, Record, envelope


class AuditEventRecord(Record):
    """An audit event: metadata and pseudonyms, never a personal identifier."""

    sequence: int | None = None
    timestamp: datetime | None = None
    client_id: str | None = None
    user_id: str | None = None
    roles: list[str] | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    service: str | None = None
    partner: str | None = None
    operation: str | None = None
    subject_pseudonyms: list[str] | None = None
    fields_disclosed: list[str] | None = None
    decision: str | None = None
    reason: str | None = None
    outcome: str | None = None
    status: int | None = None
    latency_ms: float | None = None
    request_digest: str | None = None
    response_digest: str | None = None
    request_bytes: int | None = None
    response_bytes: int | None = None
    hash: str | None = None


class ChainReportRecord(Record):
    """The verification of the audit chain, its checkpoints and archives."""

    ok: bool | None = None
    events_checked: int | None = None
    checkpoints_checked: int | None = None
    archives_checked: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None
    unsealed: int | None = None
    first_broken_seq: int | None = None
    reason: str | None = None
    head_hash: str | None = None
    notes: list[str] | None = None


class CheckpointRecord(Record):
    """A signed checkpoint of the audit chain (Ed25519, hex signature)."""

    sequence: int | None = None
    head_hash: str | None = None
    signed_at: datetime | None = None
    signed_us: int | None = None
    key_id: str | None = None
    signature: str | None = None


AuditEventsAnswer = envelope(
    "AuditEventsAnswer", list[AuditEventRecord], "gateway.audit-events", next_cursor=NEXT_CURSOR
)


ChainReportAnswer = envelope("ChainReportAnswer", ChainReportRecord, "gateway.audit-verification")


CheckpointsAnswer = envelope(
    "CheckpointsAnswer",
    list[CheckpointRecord],
    "gateway.audit-checkpoints",
    next_cursor=NEXT_CURSOR,
)


class AuditKey(BaseModel):
    key_id: str
    algorithm: str
    public_key: str = Field(description="base64url of the 32 raw bytes of the Ed25519 key.")
    created_at: datetime


class AuditKeys(BaseModel):
    keys: list[AuditKey]
