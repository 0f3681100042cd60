"""Searching the audit log: the record of one event as auditors read it, the export of a
search (JSON lines or CSV, shared by ``GET /v1/audit/events/export`` and the console),
and the console's search form (filters typed by a person, pages newest first).

A person is searched by DNI or CUI but never stored or matched in clear: the number is
pseudonymised as both (a child's CUI is the number of their DNI) and matched against the
events' subjects. The number stays out of the audit detail, of every log line and of
the errors, which name the field only.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import RowMapping, Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.events import decode
from gateway.auditing.labels import N_
from gateway.auditing.repository import event_query, events_page, events_page_before
from gateway.clients.repository import ClientRepository
from gateway.core.pseudonyms import Pseudonymizer
from gateway.identifiers import IdentifierError, parse_date, parse_document

# The days of a search are days in Lima, where the programme works.
LIMA = ZoneInfo("America/Lima")

EXPORT_COLUMNS = [
    "sequence", "timestamp", "client_id", "user_id", "roles", "purpose", "legal_basis",
    "service", "partner", "operation", "subject_pseudonyms", "fields_disclosed", "decision",
    "reason", "outcome", "status", "latency_ms", "request_digest", "response_digest",
    "request_bytes", "response_bytes", "hash",
]  # fmt: skip

DECISIONS = ("allowed", "denied", "void")
_SLUG = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def event_record(row: Any) -> dict[str, Any]:
    """A stored event (a row of :func:`gateway.auditing.repository.event_query`) as the
    auditors' API answers it: the ``gateway.audit-events`` fields of the catalog."""
    e = decode(row)
    return {
        "sequence": e["seq"],
        "timestamp": e["occurred_at"].isoformat().replace("+00:00", "Z"),
        "client_id": e["client_id"],
        "user_id": e.get("user_id"),
        "roles": e.get("roles", []),
        "purpose": e["purpose"],
        "legal_basis": e.get("legal_basis"),
        "service": e["service"],
        "partner": e.get("partner"),
        "operation": e.get("operation"),
        "subject_pseudonyms": e["subjects"],
        "fields_disclosed": e.get("fields", []),
        "decision": e["decision"],
        "reason": e.get("reason"),
        "outcome": e["outcome"],
        "status": e.get("status"),
        "latency_ms": e.get("latency_ms"),
        "request_digest": e.get("request_digest"),
        "response_digest": e.get("response_digest"),
        "request_bytes": e.get("request_bytes"),
        "response_bytes": e.get("response_bytes"),
        "hash": bytes(row["hash"]).hex() if row["hash"] is not None else None,
    }


async def export_lines(
    sessions: async_sessionmaker[AsyncSession],
    query: Select[Any],
    allowed: Iterable[str],
    format: Literal["jsonl", "csv"],  # noqa: A002 - as the API's parameter names it
) -> AsyncIterator[str]:
    """Every event of ``query``, oldest first, with only the ``allowed`` fields: one
    JSON object a line, or a CSV header line then one row an event (lists as JSON).

    Read in pages of 1,000, each in a read session of its own: memory stays bounded
    whatever the range, and no connection stays pooled while a client reads slowly (the
    body streams after the request's own session has closed)."""
    kept = [c for c in EXPORT_COLUMNS if c in set(allowed)]
    if format == "csv":
        yield ",".join(kept) + "\r\n"
    after = 0
    while True:
        async with sessions() as session:
            page = await events_page(session, query, after, 1000)
        if not page:
            return
        after = page[-1]["seq"]
        records = [event_record(r) for r in page]
        if format == "jsonl":
            yield "".join(json.dumps({k: r[k] for k in kept}) + "\n" for r in records)
        else:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for r in records:
                writer.writerow(
                    json.dumps(r[k]) if isinstance(r[k], list) else ("" if r[k] is None else r[k])
                    for k in kept
                )
            yield buffer.getvalue()


@dataclass(frozen=True)
class EventFilters:
    """A search of the log as a person filled in the form: ``subject`` is the canonical
    8-digit DNI or CUI; ``since`` and ``until`` are the first and last day (inclusive,
    Lima time); the others must equal the event's column. None: any."""

    subject: str | None = None
    client_id: str | None = None
    service: str | None = None
    purpose: str | None = None
    decision: str | None = None
    outcome: str | None = None
    since: date | None = None
    until: date | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def params(self) -> dict[str, str]:
        """The query parameters that give these filters back (links to other pages and
        to the export)."""
        return {
            f.name: str(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    def detail(self) -> dict[str, str]:
        """The filters an audit event may name: all but the person's number (the event
        names the person by pseudonym instead)."""
        found = self.params()
        found.pop("subject", None)
        return found

    def subject_refs(self, pseudonyms: Pseudonymizer) -> dict[str, str]:
        """The searched person's pseudonyms (pseudonym -> ``dni`` or ``cui``)."""
        if self.subject is None:
            return {}
        return {
            pseudonyms.of("dni", self.subject): "dni",
            pseudonyms.of("cui", self.subject): "cui",
        }

    def query(self, pseudonyms: Pseudonymizer) -> Select[Any]:
        refs = list(self.subject_refs(pseudonyms)) if self.subject is not None else None
        since = datetime.combine(self.since, time(), LIMA) if self.since else None
        until = (
            datetime.combine(self.until + timedelta(days=1), time(), LIMA) if self.until else None
        )
        equal = {
            "client_id": self.client_id,
            "service": self.service,
            "purpose": self.purpose,
            "decision": self.decision,
            "outcome": self.outcome,
        }
        return event_query(since=since, until=until, equal=equal, subject_refs=refs)


def parse_filters(params: Mapping[str, str]) -> tuple[EventFilters, dict[str, str]]:
    """The filters in ``params`` (the form's fields; blank means any) and the errors of
    those that are not valid: field name -> message id (English, from the catalogs)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    def given(name: str) -> str | None:
        value = params.get(name, "").strip()
        return value or None

    if (subject := given("subject")) is not None:
        try:
            values["subject"] = parse_document(subject).number
        except IdentifierError:
            errors["subject"] = N_(
                "Type the 8 digits of the DNI or CUI, optionally with its check digit."
            )
    if (client_id := given("client_id")) is not None:
        if _CLIENT_ID.fullmatch(client_id):
            values["client_id"] = client_id
        else:
            errors["client_id"] = N_("A client id has letters, digits, - and _ only.")
    for name in ("service", "purpose", "outcome"):
        if (slug := given(name)) is not None:
            if _SLUG.fullmatch(slug):
                values[name] = slug
            else:
                errors[name] = N_("Choose a value from the list.")
    if (decision := given("decision")) is not None:
        if decision in DECISIONS:
            values["decision"] = decision
        else:
            errors["decision"] = N_("Choose a value from the list.")
    for name in ("since", "until"):
        if (day := given(name)) is not None:
            try:
                values[name] = parse_date(day)
            except ValueError:
                errors[name] = N_("Give a date as year-month-day, for example 2021-02-10.")
    if "since" in values and "until" in values and values["until"] < values["since"]:
        errors["until"] = N_("The last day must not be before the first day.")
    return EventFilters(**values), errors


@dataclass(frozen=True)
class EventRow:
    """One event as the search shows it (codes; the page names them with
    ``gateway.auditing.labels``). ``subject_roles`` says how the searched person appears
    in it (``dni``, ``cui``); ``subjects`` counts every person it names."""

    sequence: int
    timestamp: datetime
    client_id: str | None
    client_name: str | None
    user_id: str | None
    service: str
    partner: str | None
    purpose: str | None
    legal_basis: str | None
    decision: str
    outcome: str
    reason: str | None
    fields_disclosed: list[str]
    subjects: int
    subject_roles: list[str]


@dataclass(frozen=True)
class EventPage:
    """Events newest first; ``newer`` is the ``after`` cursor of the page of newer
    events and ``older`` the ``before`` cursor of the page of older ones (None when
    there is no such page)."""

    rows: list[EventRow]
    newer: int | None
    older: int | None


async def search_page(
    session: AsyncSession,
    query: Select[Any],
    refs: Mapping[str, str],
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> EventPage:
    """A page of ``query``: the newest events (neither cursor), the ``limit`` events
    just above ``after`` or just below ``before``."""
    rows: Sequence[RowMapping]
    if after is not None:
        found = await events_page(session, query, after, limit + 1)
        rows = list(reversed(found[:limit]))
        newer = rows[0]["seq"] if len(found) > limit else None
        older = rows[-1]["seq"] if rows else None
    else:
        found = await events_page_before(session, query, before, limit + 1)
        rows = found[:limit]
        newer = rows[0]["seq"] if before is not None and rows else None
        older = rows[-1]["seq"] if len(found) > limit else None
    ids = {r["client_id"] for r in rows if r["client_id"]}
    names = await ClientRepository(session).names(ids) if ids else {}
    shown = []
    for row in rows:
        e = decode(row)
        shown.append(
            EventRow(
                sequence=e["seq"],
                timestamp=e["occurred_at"],
                client_id=e["client_id"],
                client_name=names.get(e["client_id"]),
                user_id=e.get("user_id"),
                service=e["service"],
                partner=e.get("partner"),
                purpose=e["purpose"],
                legal_basis=e.get("legal_basis"),
                decision=e["decision"],
                outcome=e["outcome"],
                reason=e.get("reason"),
                fields_disclosed=list(e.get("fields") or []),
                subjects=len(e["subjects"]),
                subject_roles=sorted({role for ref, role in refs.items() if ref in e["subjects"]}),
            )
        )
    return EventPage(shown, newer, older)
