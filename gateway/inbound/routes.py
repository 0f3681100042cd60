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
from gateway.core.errors import ProblemError, problem_responses
from gateway.inbound.kinds import FEEDS
from gateway.inbound.service import CSV, NDJSON

router = APIRouter(
    prefix="/v1/inbound", tags=["inbound"], responses=problem_responses(401, 403, 409, 415, 422)
)

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
            ex.event.request_digest = receipt.body["body_sha256"]
            if receipt.body["replayed"]:
                ex.event.outcome = "replayed"
            body = ex.respond(project(receipt.body, ex.fields), status=receipt.status)
            return JSONResponse(body, status_code=receipt.status)

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
        openapi_extra=_body_schema(FEEDS[_feed].fields),
    )
