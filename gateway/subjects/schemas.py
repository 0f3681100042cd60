"""The answer of a subject's disclosures as the OpenAPI contract describes it (see
``gateway.calls.answers`` for how answer models document, not serialise)."""

from __future__ import annotations

from datetime import datetime

from gateway.calls.answers import NEXT_CURSOR, Record, envelope


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


DisclosuresAnswer = envelope(
    "DisclosuresAnswer",
    list[DisclosureRecord],
    "gateway.subject-disclosures",
    next_cursor=NEXT_CURSOR,
)
