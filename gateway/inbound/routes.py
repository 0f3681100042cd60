"""``/v1/inbound/...``: partners push rows as NDJSON or CSV, streamed, with a message id.

Each answer carries a receipt signed with the gateway's published key (JWS, ES256, key at
``/.well-known/jwks.json``) over the message id, the body's SHA-256 and the row counts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.dependencies import Session
from gateway.calls.answers import documented
from gateway.calls.audited import audited_call, project
from gateway.calls.caller import Caller
from gateway.calls.validation import invalid
from gateway.core.errors import Problem, problem_responses
from gateway.core.limits import body_limit
from gateway.core.problems import PayloadTooLarge, ProblemError, UnsupportedMediaType
from gateway.inbound.feeds import FEEDS, NOTICES, Notices
from gateway.inbound.reading import CSV, NDJSON, Delimiter, body_format
from gateway.inbound.schemas import ReceiptAnswer
from gateway.inbound.service import InboundService, Receipt
from gateway.partners.ports import Bank
from gateway.partners.registry import PartnerRegistry
from gateway.payments.ports import RowCheck
from gateway.payments.service import PaymentService

router = APIRouter(
    prefix="/v1/inbound",
    tags=["inbound"],
    responses={
        **documented(ReceiptAnswer, "A resend (same message id and body): the original receipt"),
        **problem_responses(401, 403, 409, 413, 415, 422),
    },
)

CsvDelimiter = Annotated[
    Delimiter | None,
    Query(
        description="The column separator of a text/csv body; when absent it is detected "
        "(comma, semicolon or tab)."
    ),
]

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
    """The streamed body: bytes in one of two media types, rows of these ``fields``."""
    names = ", ".join(fields)
    return {
        "requestBody": {
            "required": True,
            "content": {
                NDJSON: {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "contentMediaType": NDJSON,
                        "description": f"One JSON object a line, with {names}.",
                    }
                },
                CSV: {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "contentMediaType": CSV,
                        "description": f"RFC 4180: a header line naming {names} (any order "
                        "and case), then one row a line; comma, semicolon or tab separated.",
                    }
                },
            },
            "description": f"Rows with {names}; each row is checked on its own. "
            "Content-Type charset: UTF-8 (default), ISO-8859-1 or Windows-1252; a leading "
            "UTF-8 byte order mark is dropped.",
            "x-row-fields": list(fields),
        }
    }


def _push(feed_name: str) -> Any:
    feed = FEEDS[feed_name]

    async def push(
        request: Request,
        call: Caller,
        session: Session,
        message_id: MessageId,
        delimiter: CsvDelimiter = None,
    ) -> JSONResponse:
        async with audited_call(call, feed.service, session=session) as audited:
            # The deliveries owed for the message and its event commit together (the
            # message itself is stored in the intake's own steps).
            audited.shares_transaction = True
            form = body_format(request.headers.get("content-type", ""), delimiter)
            declared = request.headers.get("content-length", "")
            limit = call.state.get(InboundService).limits.max_message_bytes
            if declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge(f"a message is limited to {limit:,} bytes")
            receipt = await call.state.get(InboundService).receive(
                feed, message_id, call.principal.client_id, form, request.stream()
            )
            await _distribute(call, session, feed, message_id, receipt)
            return _answer(audited, receipt)

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
        response_model=ReceiptAnswer,
        responses={400: {"model": Problem, "description": "The body is not UTF-8"}},
        summary=_summary,
        openapi_extra=_body_schema(FEEDS[_feed].fields) | body_limit(MAX_STREAM_BYTES),
    )


XML = ("application/xml", "text/xml")


async def _document(request: Request) -> bytes:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in XML:
        raise UnsupportedMediaType(
            "send application/xml",
            extra={"errors": [{"field": "header.content-type", "message": "unsupported"}]},
        )
    body = bytearray()
    async for block in request.stream():
        body += block
        if len(body) > MAX_DOCUMENT_BYTES:
            raise PayloadTooLarge(
                f"documents are limited to {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB",
            )
    return bytes(body)


def _document_schema(message: str, versions: tuple[str, ...]) -> dict[str, Any]:
    """An ISO 20022 document as the body: its media types, the message versions read, and
    where their schemas are named (``contracts/bn/README.md``: the official XSD of each
    version, or the stand-in that remains)."""
    schema = {
        "type": "string",
        "format": "binary",
        "contentMediaType": "application/xml",
        "description": f"An ISO 20022 {message} document ({', '.join(versions)}).",
        "externalDocs": {
            "description": f"ISO 20022 {message}; the schema of each version is named in "
            "contracts/bn/README.md",
            "url": "https://www.iso20022.org/iso-20022-message-definitions",
        },
    }
    return {
        "requestBody": {
            "required": True,
            "description": f"An ISO 20022 {message} document of at most "
            f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB, valid against the schema of its "
            "version; DTDs and entities are refused.",
            # The last media type is the one generated clients send.
            "content": {media: {"schema": schema} for media in reversed(XML)},
            "x-xsd": "contracts/bn/README.md",
            "x-iso20022-versions": [f"urn:iso:std:iso:20022:tech:xsd:{v}" for v in versions],
        }
    }


def _unreadable(kind: str, reason: ValueError) -> ProblemError:
    """422 naming what is wrong: the first schema error's element, line and rule, or
    the refusal of a DTD or entity declaration (the adapter's text carries no value)."""
    return invalid("body", f"not a valid {kind} document: {reason}")


@router.post(
    "/bn/payment-status",
    status_code=201,
    summary="Banco de la Nación pushes a pain.002 status report (001.03 or 001.10)",
    response_model=ReceiptAnswer,
    openapi_extra=_document_schema("pain.002", ("pain.002.001.03", "pain.002.001.10"))
    | body_limit(MAX_DOCUMENT_BYTES),
)
async def push_payment_status(
    request: Request, call: Caller, message_id: MessageId, session: Session
) -> JSONResponse:
    feed = FEEDS["payment-status"]
    async with audited_call(call, feed.service, session=session) as audited:
        body = await _document(request)
        try:
            report = call.state.get(PartnerRegistry).get(Bank).read_payment_report(body)
        except ValueError as exc:
            raise _unreadable("pain.002", exc) from None
        inbound = call.state.get(InboundService)
        receipts: list[Receipt] = []

        async def intake(
            rows: list[dict[str, Any]], check: RowCheck
        ) -> list[dict[str, Any]] | None:
            receipt = await inbound.receive_document(
                feed, message_id, call.principal.client_id, body, rows, check
            )
            receipts.append(receipt)
            if receipt.replayed:
                return None
            return [r for r in rows if not inbound.row_errors(feed, dict(r), check)]

        await call.state.get(PaymentService).apply_report(session, report, intake)
        receipt = receipts[0]
        if not receipt.replayed:
            # The statuses and the audit event commit together, with the request.
            audited.shares_transaction = True
        return _answer(audited, receipt)


@router.post(
    "/bn/settlements",
    status_code=201,
    summary="Banco de la Nación pushes a camt.054 debit notification (001.02 or 001.08)",
    response_model=ReceiptAnswer,
    openapi_extra=_document_schema("camt.054", ("camt.054.001.02", "camt.054.001.08"))
    | body_limit(MAX_DOCUMENT_BYTES),
)
async def push_settlements(request: Request, call: Caller, message_id: MessageId) -> JSONResponse:
    feed = FEEDS["settlements"]
    async with audited_call(call, feed.service) as audited:
        body = await _document(request)
        try:
            entries = call.state.get(PartnerRegistry).get(Bank).read_settlements(body)
        except ValueError as exc:
            raise _unreadable("camt.054", exc) from None
        rows = [e.as_record() for e in entries]
        receipt = await call.state.get(InboundService).receive_document(
            feed, message_id, call.principal.client_id, body, rows
        )
        return _answer(audited, receipt)


async def _distribute(
    call: Any, session: AsyncSession, feed: Any, message_id: str, receipt: Any
) -> None:
    """Owe a newly accepted message to the feed's subscribers (a resend owes nothing new),
    in the request's transaction."""
    if not receipt.body["replayed"] and feed.name in NOTICES:
        await call.state.get(Notices).fan_out(session, feed.name, feed.partner, message_id)


def _answer(audited: Any, receipt: Any) -> JSONResponse:
    audited.event.request_digest = receipt.body["body_sha256"]
    if receipt.body["replayed"]:
        audited.event.outcome = "replayed"
    status = 200 if receipt.replayed else 201  # a resend stored nothing new
    body = audited.respond(project(receipt.body, audited.fields), status=status)
    return JSONResponse(body, status_code=status)
