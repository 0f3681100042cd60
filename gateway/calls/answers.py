"""The answers of the gateway as its OpenAPI contract describes them.

Brokered answers are an envelope (``service``, ``purpose``, ``legal_basis``, ``data``):
``data`` carries only the fields the policy catalog (``contracts/policy/catalog.yaml``)
allows for the declared purpose. Each record model below lists the union of the fields
the catalog may disclose for its service, every one optional, so that a client
generated from the contract reads any purpose's projection; a test keeps each model
equal to the catalog's ``fields`` of its service.

Routes answer with ready JSON (already projected and digested for the audit log): these
models document the answers, they are not used to serialise them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from gateway.core.errors import ProblemField

# What the gateway accepts as a DNI or CUI: 8 digits, optionally followed by the check
# character (a digit or a letter A-K, either case), with or without a hyphen; the
# server verifies the check character (``gateway.calls.validation``).
DOCUMENT_PATTERN = r"^[0-9]{8}(-?[0-9A-Ka-k])?$"
DOCUMENT_SCHEMA: dict[str, Any] = {"pattern": DOCUMENT_PATTERN}
PERIOD_SCHEMA: dict[str, Any] = {"pattern": r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"}
UBIGEO_SCHEMA: dict[str, Any] = {"pattern": r"^[0-9]{6}$"}


class Record(BaseModel):
    """A projected record: any field may be absent, as the purpose decides."""


# ------------------------------------------------------------------ RENIEC


class PersonRecord(Record):
    """Identity of a person (RENIEC ``consultar``); ``photo`` is base64 JPEG."""

    dni: str | None = None
    first_surname: str | None = None
    second_surname: str | None = None
    given_names: str | None = None
    address: str | None = None
    marital_status: str | None = None
    ubigeo: str | None = None
    restriction: str | None = None
    photo: str | None = None


class IdentityVerificationRecord(Record):
    """Whether the declared names match RENIEC's record; never the record itself."""

    match: bool | None = None
    mismatched_fields: list[str] | None = None
    unverified_fields: list[str] | None = None


class NewbornRecord(Record):
    """A child of the live-birth register (Padrón Nominal)."""

    cui: str | None = None
    cnv: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    birth_weight_g: int | None = None
    health_facility: str | None = None
    ubigeo: str | None = None
    mother_dni: str | None = None
    mother_names: str | None = None
    child_names: str | None = None
    social_programs: list[str] | None = None
    alive: bool | None = None


# ------------------------------------------------------------------ OSIPTEL


class PhoneLineRecord(Record):
    """A mobile line registered to a document."""

    number: str | None = None
    operator: str | None = None
    modality: str | None = None


class PhoneLineLookup(BaseModel):
    """One caregiver of a batch: the lines, or ``status`` and ``error`` (no consent)."""

    dni: str
    lines: list[PhoneLineRecord] | None = None
    status: int | None = None
    error: str | None = None


# ------------------------------------------------------------------ Banco de la Nación


class AccountRecord(Record):
    """A Cuenta DNI at Banco de la Nación."""

    dni: str | None = None
    account_number: str | None = None
    cci: str | None = None
    status: str | None = None
    opened_at: datetime | None = None


class AccountOpening(BaseModel):
    """One holder of a mass opening: the account (``status`` 201 new, 200 existing), or
    ``status`` and ``error`` with the bank's ``bank_code``."""

    dni: str
    status: int
    account: AccountRecord | None = None
    error: str | None = None
    bank_code: str | None = None


class IntakeRejection(BaseModel):
    row: int
    field: str
    reason: str


class Reconciliation(BaseModel):
    """What the camt.054 debits say of a run's payments."""

    model_config = ConfigDict(extra="allow")

    rejected_at_intake: list[IntakeRejection] | None = None
    reconciled_at: datetime | None = None
    booked: int | None = None
    second_debits: list[str] | None = None
    paid_not_booked: list[str] | None = None
    rejected_but_booked: list[str] | None = None


class PaymentRunRecord(Record):
    """A payment run (pain.001 chunks), its progress and reconciliation."""

    id: str | None = None
    run_ref: str | None = None
    state: str | None = None
    requested_date: date | None = None
    items: int | None = None
    chunks: int | None = None
    chunks_done: int | None = None
    paid: int | None = None
    rejected: int | None = None
    rejected_by_reason: dict[str, int] | None = None
    pending: int | None = None
    attempts: int | None = None
    last_error: str | None = None
    reconciliation: Reconciliation | None = None
    rejected_at_intake: int | None = Field(
        default=None, description="Transfers refused when the run was created."
    )


# ------------------------------------------------------------------ MINSA HIS


class HealthServiceRecord(Record):
    """A health service registered in HIS for a child."""

    appointment_id: str | None = None
    service_date: date | None = None
    facility: str | None = None
    item_code: str | None = None
    diagnosis_type: str | None = None
    lab_value: str | None = None
    weight: float | None = None
    height: float | None = None
    hemoglobin: float | None = None


class VerdictRecord(Record):
    """The verdict on one required health item: given, missing or not yet due."""

    item: str | None = None
    verdict: str | None = None
    due_date: date | None = None


class ChildVerdicts(BaseModel):
    """One child of a batch: the verdicts, or ``status`` and ``error``."""

    cui: str
    verdicts: list[VerdictRecord] | None = None
    status: int | None = None
    error: str | None = None


# ------------------------------------------------------------------ the gateway's own


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


class DisclosureRecord(Record):
    """One disclosure of a person's data (ARCO access right)."""

    sequence: int | None = None
    timestamp: datetime | None = None
    client_id: str | None = None
    client_name: str | None = None
    user_id: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    service: str | None = None
    partner: str | None = None
    fields_disclosed: list[str] | None = None
    subject_role: list[str] | None = None


class RowRejection(BaseModel):
    """A refused row of a pushed message, by its number, with each failing field."""

    row: int
    errors: list[ProblemField]


class ReceiptRecord(Record):
    """What the gateway received: counts, rejected rows and a signed receipt (JWS)."""

    message_id: str | None = None
    feed: str | None = None
    body_sha256: str | None = None
    rows_accepted: int | None = None
    rows_rejected: int | None = None
    rejections: list[RowRejection] | None = None
    receipt: str | None = Field(
        default=None, description="Compact JWS (ES256), key at /.well-known/jwks.json."
    )
    replayed: bool | None = None


class StagedRecord(Record):
    """A record staged by a periodic exchange (the fields of any exchange's service)."""

    cui: str | None = None
    cnv: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    birth_weight_g: int | None = None
    health_facility: str | None = None
    ubigeo: str | None = None
    mother_dni: str | None = None
    mother_names: str | None = None
    child_names: str | None = None
    social_programs: list[str] | None = None
    alive: bool | None = None
    appointment_id: str | None = None
    service_date: date | None = None
    facility: str | None = None
    item_code: str | None = None
    lab_value: str | None = None
    dni: str | None = None
    number: str | None = None
    operator: str | None = None
    modality: str | None = None
    end_to_end_id: str | None = None
    amount: str | None = None
    booking_date: date | None = None
    msg_id: str | None = None


class NoticeRecord(Record):
    """A row of a pushed feed as a subscription delivers it."""

    cui: str | None = None
    cnv: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    ubigeo_inei: str | None = None
    mother_dni: str | None = None
    appointment_id: str | None = None
    service_date: date | None = None
    item_code: str | None = None
    facility: str | None = None
    lab_value: str | None = None
    dni: str | None = None
    number: str | None = None
    operator: str | None = None
    change: str | None = None
    effective_date: date | None = None


RECEIPT_SERVICES = (
    "reniec.birth-events",
    "minsa_his.records-push",
    "osiptel.line-changes",
    "bn.payment-status",
    "bn.settlements",
)

# The record model of each catalog service: its fields are the catalog's ``fields``.
DISCLOSABLE: dict[str, type[Record]] = {
    "reniec.person": PersonRecord,
    "reniec.identity-verification": IdentityVerificationRecord,
    "reniec.newborns": NewbornRecord,
    "osiptel.phone-lines": PhoneLineRecord,
    "bn.account-opening": AccountRecord,
    "bn.account": AccountRecord,
    "bn.payments": PaymentRunRecord,
    "minsa_his.health-services": HealthServiceRecord,
    "minsa_his.coresponsibility": VerdictRecord,
    "gateway.audit-events": AuditEventRecord,
    "gateway.audit-verification": ChainReportRecord,
    "gateway.audit-checkpoints": CheckpointRecord,
    "gateway.consents": ConsentRecord,
    "gateway.consent-check": ConsentCheckRecord,
    "gateway.subject-disclosures": DisclosureRecord,
    **dict.fromkeys(RECEIPT_SERVICES, ReceiptRecord),
}


# ------------------------------------------------------------------ envelopes


class EnvelopeBase(BaseModel):
    """Every brokered answer: which service, for which purpose, on which legal basis."""

    service: str = Field(description="The catalog service that answered.")
    purpose: str = Field(description="The purpose declared in X-Purpose.")
    legal_basis: str = Field(description="The catalog's legal basis for this disclosure.")


def envelope(name: str, data: Any, doc: str, **extra: Any) -> type[EnvelopeBase]:
    """An answer envelope named ``name`` whose ``data`` is of type ``data``; ``extra``
    adds fields as ``create_model`` takes them (``(type, default)``)."""
    model: type[EnvelopeBase] = create_model(
        name, __base__=EnvelopeBase, __doc__=doc, data=(data, ...), **extra
    )
    return model


NEXT_CURSOR: Any = (str | None, Field(default=None, description="Ask again with this cursor."))
PERIOD: Any = (str | None, Field(default=None, description="The month judged, YYYY-MM."))

PersonAnswer = envelope("PersonAnswer", PersonRecord, "reniec.person")
IdentityVerificationAnswer = envelope(
    "IdentityVerificationAnswer", IdentityVerificationRecord, "reniec.identity-verification"
)
NewbornsAnswer = envelope(
    "NewbornsAnswer", list[NewbornRecord], "reniec.newborns", next_cursor=NEXT_CURSOR
)
PhoneLinesAnswer = envelope("PhoneLinesAnswer", list[PhoneLineRecord], "osiptel.phone-lines")
PhoneLineLookupsAnswer = envelope(
    "PhoneLineLookupsAnswer", list[PhoneLineLookup], "osiptel.phone-lines, one entry a DNI"
)
AccountAnswer = envelope("AccountAnswer", AccountRecord, "bn.account-opening or bn.account")
AccountOpeningsAnswer = envelope(
    "AccountOpeningsAnswer", list[AccountOpening], "bn.account-opening, one entry a holder"
)
PaymentRunAnswer = envelope("PaymentRunAnswer", PaymentRunRecord, "bn.payments")
HealthServicesAnswer = envelope(
    "HealthServicesAnswer", list[HealthServiceRecord], "minsa_his.health-services"
)
VerdictsAnswer = envelope(
    "VerdictsAnswer", list[VerdictRecord], "minsa_his.coresponsibility", period=PERIOD
)
ChildVerdictsAnswer = envelope(
    "ChildVerdictsAnswer",
    list[ChildVerdicts],
    "minsa_his.coresponsibility, one entry a child",
    period=PERIOD,
)
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
ConsentAnswer = envelope("ConsentAnswer", ConsentRecord, "gateway.consents")
ConsentsAnswer = envelope("ConsentsAnswer", list[ConsentRecord], "gateway.consents")
ConsentCheckAnswer = envelope("ConsentCheckAnswer", ConsentCheckRecord, "gateway.consent-check")
DisclosuresAnswer = envelope(
    "DisclosuresAnswer",
    list[DisclosureRecord],
    "gateway.subject-disclosures",
    next_cursor=NEXT_CURSOR,
)
ReceiptAnswer = envelope("ReceiptAnswer", ReceiptRecord, "a pushed message's receipt")


class RunSummary(BaseModel):
    id: str
    exchange: str
    state: str
    chunks_done: int
    records: int


StagedRecordsAnswer = envelope(
    "StagedRecordsAnswer",
    list[StagedRecord],
    "the records a periodic exchange staged, in chunk order",
    run=(RunSummary, ...),
    chunk=(int, ...),
    next_chunk=(
        int | None,
        Field(default=None, description="The chunk to ask next; null once all were read."),
    ),
)


# ------------------------------------------------------------------ operations


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    """Each check (``status`` ok or fail, with details) and each partner's breaker."""

    status: str
    checks: dict[str, dict[str, Any]]
    partners: dict[str, dict[str, str]]


class ProblemTypeDescription(BaseModel):
    type: str
    title: str
    status: int
    description: str


class PartnerHealth(BaseModel):
    model_config = ConfigDict(extra="allow")

    breaker: str
    in_flight: int
    max_in_flight: int
    operations: dict[str, dict[str, Any]]


class PartnersHealth(BaseModel):
    partners: dict[str, PartnerHealth]


class AuditKey(BaseModel):
    key_id: str
    algorithm: str
    public_key: str = Field(description="base64url of the 32 raw bytes of the Ed25519 key.")
    created_at: datetime


class AuditKeys(BaseModel):
    keys: list[AuditKey]


class ExchangeRun(BaseModel):
    """A run of a periodic exchange (a durable chunked job)."""

    id: str
    exchange: str
    state: str
    params: dict[str, Any]
    chunks_done: int
    records: int
    attempts: int
    last_error: str | None = None
    more_pages: bool
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    next_attempt_at: datetime | None = None
    triggered_by: str | None = None


class ExchangeDeclared(BaseModel):
    name: str
    service: str
    purpose: str
    description: str
    every_seconds: int
    chunk_size: int
    recent_runs: list[ExchangeRun]


class ExchangeList(BaseModel):
    exchanges: list[ExchangeDeclared]


class SubscriptionView(BaseModel):
    """A subscription; ``deliveries`` counts them by state; ``secret`` only once, at
    creation of a push subscription, to verify ``X-Juntos-Signature``."""

    id: str
    feed: str
    purpose: str
    mode: Literal["push", "pull"]
    webhook_url: str | None = None
    active: bool
    deliveries: dict[str, int]
    secret: str | None = None


class DeliveryStatus(BaseModel):
    delivery_id: int
    message_id: str | None = None
    chunk: int | None = None
    state: str
    attempts: int | None = None
    last_error: str | None = None


class DeliveryPayload(BaseModel):
    subscription_id: str
    delivery_id: int
    feed: str
    message_id: str
    chunk: int
    rows: list[NoticeRecord]
    withheld_without_consent: int


class Deliveries(BaseModel):
    """Pending deliveries with their rows (pull), or delivery status (with ``state``)."""

    deliveries: list[DeliveryPayload | DeliveryStatus]


class DeliveryState(BaseModel):
    delivery_id: int
    state: str


def documented(model: Any, description: str, status: int = 200) -> dict[int | str, Any]:
    """A ``responses`` entry documenting ``model`` as the answer of ``status``."""
    return {status: {"model": model, "description": description}}
