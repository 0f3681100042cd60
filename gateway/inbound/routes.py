"""``/v1/inbound/...``: partners push rows as NDJSON or CSV, streamed, with a message id
(each push is one audited call of ``gateway.inbound.intake``, as the console's uploads).

Each answer carries a receipt signed with the gateway's published key (JWS, ES256, key at
``/.well-known/jwks.json``) over the message id, the body's SHA-256 and the row counts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from gateway.auth.dependencies import Session
from gateway.calls.answers import documented
from gateway.calls.caller import Caller
from gateway.core.errors import Problem, problem_responses
from gateway.core.i18n import N_
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.limits import body_limit
from gateway.core.problems import UnsupportedMediaType
from gateway.inbound.feeds import FEEDS
from gateway.inbound.intake import (
    MAX_DOCUMENT_BYTES,
    MAX_STREAM_BYTES,
    push_document,
    push_rows,
    read_document,
)
from gateway.inbound.reading import CSV, NDJSON, Delimiter
from gateway.inbound.schemas import ReceiptAnswer

router = APIRouter(
    route_class=JSONBodyRoute,
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
                        "description": f"One JSON object a line, with {names} and no other key.",
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
        declared = request.headers.get("content-length", "")
        pushed = await push_rows(
            call,
            session,
            feed,
            message_id,
            request.headers.get("content-type", ""),
            delimiter,
            request.stream(),
            int(declared) if declared.isdigit() else None,
        )
        return pushed.response()

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
            N_("send application/xml"),
            extra={"errors": [{"field": "header.content-type", "message": N_("unsupported")}]},
        )
    return await read_document(request.stream())


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
    pushed = await push_document(
        call, session, FEEDS["payment-status"], message_id, lambda: _document(request)
    )
    return pushed.response()


@router.post(
    "/bn/settlements",
    status_code=201,
    summary="Banco de la Nación pushes a camt.054 debit notification (001.02 or 001.08)",
    response_model=ReceiptAnswer,
    openapi_extra=_document_schema("camt.054", ("camt.054.001.02", "camt.054.001.08"))
    | body_limit(MAX_DOCUMENT_BYTES),
)
async def push_settlements(request: Request, call: Caller, message_id: MessageId) -> JSONResponse:
    pushed = await push_document(
        call, None, FEEDS["settlements"], message_id, lambda: _document(request)
    )
    return pushed.response()
