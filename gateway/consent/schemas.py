from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.calls.answers import DOCUMENT_SCHEMA, Record, envelope


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recording_ref: str = Field(
        min_length=1, max_length=200, description="Reference of the call recording."
    )
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the recording, lowercase hex."
    )


class ConsentRequest(BaseModel):
    """The commitment agreement accepted by the caregiver in the affiliation call."""

    model_config = ConfigDict(extra="forbid")

    cui: str = Field(
        description="CUI of the child (8 digits, optional check character).",
        json_schema_extra=DOCUMENT_SCHEMA,
    )
    caregiver_dni: str = Field(
        description="DNI of the caregiver who accepted.", json_schema_extra=DOCUMENT_SCHEMA
    )
    purposes: list[str] = Field(min_length=1, max_length=20)
    data_categories: list[str] = Field(min_length=1, max_length=20)
    channel: Literal["phone-call", "in-person"] = "phone-call"
    evidence: Evidence
    agent_id: str = Field(pattern=r"^[A-Za-z0-9._@:-]{1,64}$")
    agreement_id: str = Field(
        default="DU095-2020-ACUERDO-COMPROMISO", pattern=r"^[A-Za-z0-9._-]{1,64}$"
    )
    agreement_version: str = Field(default="1", pattern=r"^[A-Za-z0-9._-]{1,32}$")
    expires_at: datetime | None = Field(
        default=None, description="When the consent lapses (with time zone)."
    )


class RevocationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class ConsentEvidence(BaseModel):
    recording_ref: str
    sha256: str


class ConsentRevision(BaseModel):
    revision: int
    action: str
    recorded_at: datetime | None = None
    prev_hash: str | None = None
    hash: str


class ConsentRecord(Record):
    """A consent (commitment agreement) and, when read alone, its revision chain."""

    id: str | None = None
    cui: str | None = None
    caregiver_dni: str | None = None
    purposes: list[str] | None = None
    data_categories: list[str] | None = None
    legal_basis: str | None = None
    agreement_id: str | None = None
    agreement_version: str | None = None
    channel: str | None = None
    evidence: ConsentEvidence | None = None
    agent_id: str | None = None
    state: Literal["active", "expired", "revoked"] | None = None
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    revision: int | None = None
    hash: str | None = None
    revisions: list[ConsentRevision] | None = None
    chain_intact: bool | None = None


class ConsentCheckRecord(Record):
    """Whether an active consent covers the purpose; nothing else."""

    purpose: str | None = None
    active: bool | None = None


ConsentAnswer = envelope("ConsentAnswer", ConsentRecord, "gateway.consents")


ConsentsAnswer = envelope("ConsentsAnswer", list[ConsentRecord], "gateway.consents")


ConsentCheckAnswer = envelope("ConsentCheckAnswer", ConsentCheckRecord, "gateway.consent-check")
