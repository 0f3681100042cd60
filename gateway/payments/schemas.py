"""The answers of the payment runs as the OpenAPI contract describes them (see
``gateway.calls.answers`` for how answer models document, not serialise)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from gateway.calls.answers import Record, envelope


class IntakeRejection(BaseModel):
    row: int = Field(description="The transfer's place in the roll, counting from 1.")
    field: str
    reason: str = Field(
        description="Why, as a stable code to key on: the catalog's English words "
        "('already in an earlier roll') or a problem type's slug ('consent-required')."
    )
    message: str | None = Field(
        default=None,
        description="Why, in the reader's language (Accept-Language), as a problem's "
        "errors[].message.",
    )


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
    triggered_by: str | None = Field(
        default=None, description="Who started the run: the client id that submitted the roll."
    )
    triggered_by_user: str | None = Field(
        default=None,
        description="The person who started it, when one was named (the X-User-Id).",
    )


PaymentRunAnswer = envelope("PaymentRunAnswer", PaymentRunRecord, "bn.payments")
