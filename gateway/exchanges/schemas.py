"""The answers of the periodic exchanges as the OpenAPI contract describes them (see
``gateway.calls.answers`` for how answer models document, not serialise)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.broker.schemas import NewbornRecord
from gateway.calls.answers import envelope


class StagedRecord(NewbornRecord):
    """A record staged by a periodic exchange (the fields of any exchange's service)."""

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
    account_number: str | None = None
    delivered_on: date | None = None


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
    triggered_by: str | None = Field(
        default=None,
        description=(
            "Who started the run: the client id of the API call, or `schedule`, `cli`, `console`."
        ),
    )
    triggered_by_user: str | None = Field(
        default=None,
        description=(
            "The person who started it, when one did: the console username, the "
            "operator's login name at the command line, or the caller's X-User-Id."
        ),
    )


class ExchangeDeclared(BaseModel):
    name: str
    service: str
    purpose: str
    description: str = Field(
        description="The catalog's description, in the language of the answer's "
        "Content-Language (Accept-Language negotiated; Spanish by default)."
    )
    every_seconds: int
    chunk_size: int
    recent_runs: list[ExchangeRun]


class ExchangeList(BaseModel):
    exchanges: list[ExchangeDeclared]
