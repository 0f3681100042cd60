"""The auditors' API: events (filtered, paged, exported), verification, checkpoints and
the public keys. Auditors see pseudonyms and metadata, never personal data, and every
query they make is itself audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import Select

from gateway.auditing.checkpoint_keys import published_keys
from gateway.auditing.repository import checkpoints_page, event_query, events_page
from gateway.auditing.schemas import (
    AuditEventsAnswer,
    AuditKeys,
    ChainReportAnswer,
    CheckpointsAnswer,
)
from gateway.auditing.search import event_record, export_lines
from gateway.auditing.service import RangeAfterChain, verify
from gateway.auth.dependencies import Session, State
from gateway.calls.answers import DOCUMENT_SCHEMA, documented
from gateway.calls.audited import audited_call, project
from gateway.calls.caller import Caller
from gateway.calls.validation import invalid, parse_document
from gateway.core.errors import problem_responses
from gateway.core.i18n import N_, Text
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.limits import BIGINT_MAX
from gateway.core.pseudonyms import Pseudonymizer
from gateway.core.web import Components
from gateway.settings import Settings

router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1/audit",
    tags=["audit"],
    responses=problem_responses(401, 403, 422),
)
# What anyone may read, without a token: it can answer neither 401 nor 403.
public_router = APIRouter(route_class=JSONBodyRoute, prefix="/v1/audit", tags=["audit"])

Since = Annotated[datetime | None, Query(description="Events at or after this time.")]
Until = Annotated[datetime | None, Query(description="Events before this time.")]
Decision = Literal["allowed", "denied", "void"]
Slug = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9._-]{0,63}$")]
ClientId = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
Subject = Annotated[
    str | None,
    Query(
        description="A DNI or CUI; pseudonymised by the gateway before the search.",
        json_schema_extra=DOCUMENT_SCHEMA,
    ),
]


def _filtered(
    state: Components,
    since: datetime | None,
    until: datetime | None,
    client_id: str | None,
    service: str | None,
    purpose: str | None,
    decision: str | None,
    outcome: str | None,
    subject: str | None,
) -> Select[Any]:
    for moment, name in ((since, "query.since"), (until, "query.until")):
        if moment is not None and moment.tzinfo is None:
            raise invalid(name, N_("give a time zone (for example ...Z)"))
    if since is not None and until is not None and until <= since:
        raise invalid("query.until", N_("must be after since"))
    refs = None
    if subject is not None:
        number, _ = parse_document(subject, "query.subject")
        refs = [
            state.get(Pseudonymizer).of("dni", number),
            state.get(Pseudonymizer).of("cui", number),
        ]
    equal = {
        "client_id": client_id,
        "service": service,
        "purpose": purpose,
        "decision": decision,
        "outcome": outcome,
    }
    return event_query(since=since, until=until, equal=equal, subject_refs=refs)


@public_router.get(
    "/keys",
    summary="Public keys that sign checkpoints and archives (no token needed)",
    response_model=None,
    responses=documented(AuditKeys, "The Ed25519 keys, current and retired"),
)
async def audit_keys(session: Session) -> dict[str, Any]:
    return {"keys": await published_keys(session)}


@router.get(
    "/events",
    response_model=AuditEventsAnswer,
    summary="Audit events, filtered, in sequence order (auditor)",
)
async def list_events(
    call: Caller,
    session: Session,
    since: Since = None,
    until: Until = None,
    client_id: ClientId = None,
    service: Slug = None,
    purpose: Slug = None,
    decision: Decision | None = None,
    outcome: Slug = None,
    subject: Subject = None,
    cursor: Annotated[
        int | None, Query(ge=0, le=BIGINT_MAX, description="next_cursor of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    async with audited_call(call, "gateway.audit-events") as audited:
        query = _filtered(
            call.state, since, until, client_id, service, purpose, decision, outcome, subject
        )
        rows = await events_page(session, query, cursor or 0, limit + 1)
        items = [project(event_record(r), audited.fields) for r in rows[:limit]]
        next_cursor = str(rows[limit - 1]["seq"]) if len(rows) > limit else None
        return audited.answer(items, next_cursor=next_cursor)


@router.get(
    "/events/export",
    summary="Stream every matching event as JSON lines or CSV (auditor)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One event a line (JSON lines), or a header line then one a row (CSV)",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def export_events(
    call: Caller,
    state: State,
    format: Literal["jsonl", "csv"] = "jsonl",  # noqa: A002 - the query parameter's name
    since: Since = None,
    until: Until = None,
    client_id: ClientId = None,
    service: Slug = None,
    purpose: Slug = None,
    decision: Decision | None = None,
    outcome: Slug = None,
    subject: Subject = None,
) -> StreamingResponse:
    async with audited_call(call, "gateway.audit-events") as audited:
        query = _filtered(
            state, since, until, client_id, service, purpose, decision, outcome, subject
        )
        fields = audited.fields
        audited.respond(None)

    media = "application/x-ndjson" if format == "jsonl" else "text/csv; charset=utf-8"
    return StreamingResponse(export_lines(state.sessions, query, fields, format), media_type=media)


@router.get(
    "/verify",
    response_model=ChainReportAnswer,
    summary="Verify the chain and checkpoint signatures (auditor)",
)
async def verify_chain(
    call: Caller,
    from_seq: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    to_seq: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
) -> JSONResponse:
    async with audited_call(call, "gateway.audit-verification") as audited:
        if from_seq is not None and to_seq is not None and to_seq < from_seq:
            raise invalid("query.to_seq", N_("must not be below from_seq"))
        try:
            report = await asyncio.to_thread(
                verify, call.state.get(Settings).database_url, from_seq, to_seq, asked=True
            )
        except RangeAfterChain as exc:
            raise invalid(
                "query.from_seq",
                Text("after the chain's last sealed event, {head}", head=exc.head),
            ) from None
        return audited.answer(project(report.as_dict(), audited.fields))


@router.get(
    "/checkpoints",
    response_model=CheckpointsAnswer,
    summary="Signed checkpoints of the chain (auditor)",
)
async def list_checkpoints(
    call: Caller,
    session: Session,
    cursor: Annotated[int | None, Query(ge=0, le=BIGINT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    async with audited_call(call, "gateway.audit-checkpoints") as audited:
        rows = await checkpoints_page(session, cursor or 0, limit + 1)
        items = [
            project(
                {
                    "sequence": r["seq"],
                    "head_hash": bytes(r["head_hash"]).hex(),
                    "signed_at": datetime.fromtimestamp(r["signed_us"] / 1e6, UTC).isoformat(),
                    "signed_us": r["signed_us"],
                    "key_id": r["key_id"],
                    "signature": bytes(r["signature"]).hex(),
                },
                audited.fields,
            )
            for r in rows[:limit]
        ]
        next_cursor = str(rows[limit - 1]["seq"]) if len(rows) > limit else None
        return audited.answer(items, next_cursor=next_cursor)
