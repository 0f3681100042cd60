"""The reminder batches as the OpenAPI contract describes them (see
``gateway.calls.answers`` for how answer models document, not serialise)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from gateway.calls.answers import Record, envelope


class ReminderBatchRecord(Record):
    """A batch of SMS reminders and its reminders counted by state."""

    id: str | None = None
    batch_ref: str | None = None
    template: str | None = None
    state: str | None = Field(
        default=None, description="queued (some not sent yet), sent (awaiting receipts), done."
    )
    reminders: int | None = None
    queued: int | None = None
    submitted: int | None = Field(default=None, description="Accepted by the SMSC, no receipt.")
    delivered: int | None = None
    failed: int | None = None
    expired: int | None = None
    opted_out: int | None = Field(default=None, description="Not sent: the phone opted out.")
    refused: int | None = Field(default=None, description="Refused by the SMSC for good.")
    already_requested: int | None = Field(
        default=None,
        description="On creation: reminders whose key an earlier batch already holds "
        "(not queued again).",
    )
    created_at: datetime | None = None


ReminderBatchAnswer = envelope("ReminderBatchAnswer", ReminderBatchRecord, "smsc.reminders")
