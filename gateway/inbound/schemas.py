"""The receipts of pushed feeds as the OpenAPI contract describes them (see
``gateway.calls.answers`` for how answer models document, not serialise)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gateway.calls.answers import Record, envelope
from gateway.core.errors import ProblemField


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


RECEIPT_SERVICES = (
    "reniec.birth-events",
    "minsa_his.records-push",
    "osiptel.line-changes",
    "bn.payment-status",
    "bn.settlements",
)


ReceiptAnswer = envelope("ReceiptAnswer", ReceiptRecord, "a pushed message's receipt")
