"""``/v1/inbound/...``: partners push rows as NDJSON or CSV, streamed, with a message id.

Each answer carries a receipt signed with the gateway's published key (JWS, ES256, key at
``/.well-known/jwks.json``) over the message id, the body's SHA-256 and the row counts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from gateway.broker.routes import Caller
from gateway.broker.service import exchange, project
from gateway.broker.validation import invalid
from gateway.core.errors import ProblemError, problem_responses
from gateway.core.limits import body_limit
from gateway.inbound.kinds import FEEDS
from gateway.inbound.service import CSV, NDJSON
from gateway.partners.ports import Bank
from gateway.subscriptions.service import NOTICES

router = APIRouter(
    prefix="/v1/inbound",
    tags=["inbound"],
    responses={
        200: {"description": "A resend (same message id and body): the original receipt"},
        **problem_responses(401, 403, 409, 413, 415, 422),
    },
)

# Streamed rows are checked and stored chunk by chunk, so memory stays bounded whatever a
# message's size; the limit only bounds how long one message may hold its claim.
MAX_STREAM_BYTES = 1024 * 1024 * 1024
MAX_DOCUMENT_BYTES = 25 * 1024 * 1024

MessageId = Annotated[
    str,
    Header(
        alias="X-Message-Id",
        pattern=r"^[A-Za-z0-9._:-]{1,128}$",
        description="The sender's id of this message; a resend must reuse it.",
    ),
]


def _body_schema(fields: tuple[str, ...]) -> dict[str, Any]:
    row = {"type": "object", "properties": {f: {"type": "string"} for f in fields}}
    return {
        "requestBody": {
            "required": True,
            "content": {
                NDJSON: {"schema": {"type": "string", "description": "one JSON object per line"}},
                CSV: {"schema": {"type": "string", "description": "a header line, then rows"}},
            },
            "description": f"Rows with {', '.join(fields)}; each row is one of: {row}",
        }
    }


def _push(feed_name: str) -> Any:
    feed = FEEDS[feed_name]

    async def push(request: Request, call: Caller, message_id: MessageId) -> JSONResponse:
        async with exchange(call, feed.service) as ex:
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media not in (NDJSON, CSV):
                raise ProblemError(
                    "unsupported-media-type",
                    f"send {NDJSON} or {CSV}",
                    extra={"errors": [{"field": "header.content-type", "message": "unsupported"}]},
                )
            receipt = await call.state.inbound.receive(
                feed, message_id, call.principal.client_id, media, request.stream()
            )
            await _distribute(call, feed, message_id, receipt)
            return _answer(ex, receipt)

    push.__name__ = f"push_{feed_name.replace('-', '_')}"
    return push


for _path, _feed, _summary in (
    ("/reniec/births", "births", "RENIEC pushes birth events (NDJSON or CSV)"),
    ("/minsa-his/health-records", "health-records", "MINSA pushes HIS records in bulk"),
    ("/osiptel/line-changes", "line-changes", "OSIPTEL pushes mobile line changes"),
):
    router.add_api_route(
        _path,
        _push(_feed),
        methods=["POST"],
        status_code=201,
        summary=_summary,
        openapi_extra=_body_schema(FEEDS[_feed].fields) | body_limit(MAX_STREAM_BYTES),
    )


XML = ("application/xml", "text/xml")


async def _document(request: Request) -> bytes:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in XML:
        raise ProblemError(
            "unsupported-media-type",
            "send application/xml",
            extra={"errors": [{"field": "header.content-type", "message": "unsupported"}]},
        )
    body = bytearray()
    async for block in request.stream():
        body += block
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ProblemError(
                "payload-too-large",
                f"documents are limited to {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB",
            )
    return bytes(body)


def _unreadable(kind: str) -> ProblemError:
    return invalid("body", f"not a valid {kind} document (XML with DTDs or entities is refused)")


@router.post(
    "/bn/payment-status",
    status_code=201,
    summary="Banco de la Nación pushes a pain.002 status report",
    openapi_extra={"requestBody": {"required": True, "content": {"application/xml": {}}}}
    | body_limit(MAX_DOCUMENT_BYTES),
)
async def push_payment_status(
    request: Request, call: Caller, message_id: MessageId
) -> JSONResponse:
    feed = FEEDS["payment-status"]
    async with exchange(call, feed.service) as ex:
        body = await _document(request)
        try:
            report = call.state.partners.get(Bank).read_payment_report(body)
        except ValueError:
            raise _unreadable("pain.002") from None
        rows = [
            {
                "end_to_end_id": t.end_to_end_id,
                "status": t.status,
                "reason": t.reason,
                "original_msg_id": report.original_msg_id,
            }
            for t in report.transactions
        ]
        receipt = await call.state.inbound.receive_document(
            feed, message_id, call.principal.client_id, body, rows
        )
        if not receipt.body["replayed"]:
            await call.state.payments.apply_statuses([r for r in rows if not feed.check(dict(r))])
        return _answer(ex, receipt)


@router.post(
    "/bn/settlements",
    status_code=201,
    summary="Banco de la Nación pushes a camt.054 debit notification",
    openapi_extra={"requestBody": {"required": True, "content": {"application/xml": {}}}}
    | body_limit(MAX_DOCUMENT_BYTES),
)
async def push_settlements(request: Request, call: Caller, message_id: MessageId) -> JSONResponse:
    feed = FEEDS["settlements"]
    async with exchange(call, feed.service) as ex:
        body = await _document(request)
        try:
            entries = call.state.partners.get(Bank).read_settlements(body)
        except ValueError:
            raise _unreadable("camt.054") from None
        rows = [
            {
                "end_to_end_id": e.end_to_end_id,
                "amount": e.amount,
                "booking_date": e.booking_date.isoformat(),
                "msg_id": e.msg_id,
            }
            for e in entries
        ]
        receipt = await call.state.inbound.receive_document(
            feed, message_id, call.principal.client_id, body, rows
        )
        return _answer(ex, receipt)


async def _distribute(call: Any, feed: Any, message_id: str, receipt: Any) -> None:
    """Owe a newly accepted message to the feed's subscribers (a resend owes nothing new)."""
    if not receipt.body["replayed"] and feed.name in NOTICES:
        await call.state.subscriptions.fan_out(feed.name, feed.partner, message_id)


def _answer(ex: Any, receipt: Any) -> JSONResponse:
    ex.event.request_digest = receipt.body["body_sha256"]
    if receipt.body["replayed"]:
        ex.event.outcome = "replayed"
    body = ex.respond(project(receipt.body, ex.fields), status=receipt.status)
    return JSONResponse(body, status_code=receipt.status)
