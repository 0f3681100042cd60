"""One pushed message as one audited call, whoever sends it.

A partner's system posts a message to ``/v1/inbound/...`` (``gateway.inbound.routes``);
a partner's agent uploads the same file in the console (``gateway.console.agent``). Both
go through the functions here, so a message gets the same claim of its message id, the
same row checks, the same signed receipt, the same notices to subscribers and the same
audit event (naming the client, and the person when ``call.user_id`` names one) on
either path.

Formats, per feed (:func:`formats`): the streamed feeds read CSV (RFC 4180, comma,
semicolon or tab, with a header line; Excel's exports included) and NDJSON
(``gateway.inbound.reading``); the bank's feeds read one ISO 20022 XML document
(pain.002 for payment status, camt.054 for settlements), read by its adapter. Size
limits, per feed (:func:`size_limit`): ``MAX_STREAM_BYTES`` for a streamed message,
``MAX_DOCUMENT_BYTES`` for a document.

Errors: a message that cannot be read whole raises the :class:`ProblemError` its route
answers (415, 413, 400, 422 naming the line or column, 409 for a message id in use), and
nothing of it is kept; the audit event records the refusal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.audited import AuditedCall, Call, audited_call, project
from gateway.calls.validation import invalid
from gateway.core.errors import language_headers, request_locale
from gateway.core.i18n import Text, render
from gateway.core.problems import PayloadTooLarge, ProblemError
from gateway.inbound.feeds import NOTICES, Feed, Notices
from gateway.inbound.reading import Delimiter, body_format
from gateway.inbound.reasons import reason_text
from gateway.inbound.service import InboundService, Receipt
from gateway.partners.ports import Bank
from gateway.partners.registry import PartnerRegistry
from gateway.payments.ports import RowCheck
from gateway.payments.service import PaymentService

# Streamed rows are checked and stored chunk by chunk, so memory stays bounded whatever a
# message's size; the limit only bounds how long one message may hold its claim.
MAX_STREAM_BYTES = 1024 * 1024 * 1024
MAX_DOCUMENT_BYTES = 25 * 1024 * 1024

Format = Literal["csv", "ndjson", "xml"]
# The bank's feeds: an ISO 20022 message read whole by the bank's adapter.
DOCUMENTS = {"payment-status": "pain.002", "settlements": "camt.054"}


def formats(feed: Feed) -> tuple[Format, ...]:
    """What a feed reads: ``("xml",)`` for an ISO 20022 document, else CSV and NDJSON."""
    return ("xml",) if feed.name in DOCUMENTS else ("csv", "ndjson")


def size_limit(feed: Feed) -> int:
    """The largest message of ``feed``, in bytes (its API route's body limit)."""
    return MAX_DOCUMENT_BYTES if feed.name in DOCUMENTS else MAX_STREAM_BYTES


@dataclass(frozen=True)
class Pushed:
    """What a push got: its receipt and the API's answer (envelope and status: 201 for a
    new message, 200 for a resend, which stored nothing new)."""

    receipt: Receipt
    answer: dict[str, Any]
    status: int
    locale: str

    def response(self) -> JSONResponse:
        """The answer as sent: its rejections' reasons are in :attr:`locale`, which the
        headers say (``gateway.core.errors.language_headers``)."""
        return JSONResponse(
            self.answer, status_code=self.status, headers=language_headers(self.locale)
        )


async def push_rows(
    call: Call,
    session: AsyncSession,
    feed: Feed,
    message_id: str,
    content_type: str,
    delimiter: Delimiter | None,
    stream: AsyncIterator[bytes],
    declared_bytes: int | None = None,
) -> Pushed:
    """A streamed message (CSV or NDJSON, as ``content_type`` declares) of a rows feed.

    ``declared_bytes`` (a Content-Length, a file's size) over the limit is refused before
    a byte is read. The accepted message's notices and its audit event commit in
    ``session``, the caller's transaction (the rows themselves are stored in the intake's
    own steps, ``gateway.inbound.service``)."""
    inbound = call.state.get(InboundService)
    async with audited_call(call, feed.service, session=session) as audited:
        audited.shares_transaction = True
        form = body_format(content_type, delimiter)
        limit = inbound.limits.max_message_bytes
        if declared_bytes is not None and declared_bytes > limit:
            raise PayloadTooLarge(Text("a message is limited to {limit:,} bytes", limit=limit))
        receipt = await inbound.receive(
            feed, message_id, call.principal.client_id, form, stream, user_id=call.user_id
        )
        if not receipt.replayed and feed.name in NOTICES:
            # Owed to the feed's subscribers, in the request's transaction (a resend
            # owes nothing new).
            await call.state.get(Notices).fan_out(session, feed.name, feed.partner, message_id)
        return _answer(audited, receipt, request_locale(call.request))


async def read_document(blocks: AsyncIterator[bytes]) -> bytes:
    """A whole document from ``blocks``; 413 as soon as it passes ``MAX_DOCUMENT_BYTES``."""
    body = bytearray()
    async for block in blocks:
        body += block
        if len(body) > MAX_DOCUMENT_BYTES:
            raise PayloadTooLarge(
                Text(
                    "documents are limited to {limit} MiB",
                    limit=MAX_DOCUMENT_BYTES // (1024 * 1024),
                ),
            )
    return bytes(body)


def _unreadable(kind: str, reason: ValueError) -> ProblemError:
    """422 naming what is wrong: the first schema error's element, line and rule, or
    the refusal of a DTD or entity declaration (the adapter's text carries no value)."""
    return invalid(
        "body",
        Text("not a valid {kind} document: {reason}", kind=kind, reason=reason_text(str(reason))),
    )


async def push_document(
    call: Call,
    session: AsyncSession | None,
    feed: Feed,
    message_id: str,
    read: Callable[[], Awaitable[bytes]],
) -> Pushed:
    """An ISO 20022 document of one of the bank's feeds (:data:`DOCUMENTS`), read by
    ``read`` inside the audited call (which refuses a body over ``MAX_DOCUMENT_BYTES``).

    Payment status: the statuses of the run's payments are applied in ``session`` with
    the audit event; settlements: rows kept as any feed's (``session`` unused, the event
    goes through the group writer)."""
    if feed.name == "payment-status":
        assert session is not None, "payment statuses are applied in the caller's transaction"
        return await _payment_status(call, session, feed, message_id, read)
    if feed.name == "settlements":
        return await _settlements(call, feed, message_id, read)
    raise ValueError(f"{feed.name} is not a document feed")


async def _payment_status(
    call: Call,
    session: AsyncSession,
    feed: Feed,
    message_id: str,
    read: Callable[[], Awaitable[bytes]],
) -> Pushed:
    async with audited_call(call, feed.service, session=session) as audited:
        body = await read()
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
                feed, message_id, call.principal.client_id, body, rows, check, call.user_id
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
        return _answer(audited, receipt, request_locale(call.request))


async def _settlements(
    call: Call, feed: Feed, message_id: str, read: Callable[[], Awaitable[bytes]]
) -> Pushed:
    async with audited_call(call, feed.service) as audited:
        body = await read()
        try:
            entries = call.state.get(PartnerRegistry).get(Bank).read_settlements(body)
        except ValueError as exc:
            raise _unreadable("camt.054", exc) from None
        rows = [e.as_record() for e in entries]
        receipt = await call.state.get(InboundService).receive_document(
            feed, message_id, call.principal.client_id, body, rows, user_id=call.user_id
        )
        return _answer(audited, receipt, request_locale(call.request))


def _answer(audited: AuditedCall, receipt: Receipt, locale: str) -> Pushed:
    """The API's answer to a push: the receipt as the catalog lets this caller see it,
    each refused row's reasons in ``locale`` (they are stored in English)."""
    audited.event.request_digest = receipt.body["body_sha256"]
    if receipt.replayed:
        audited.event.outcome = "replayed"
    status = 200 if receipt.replayed else 201  # a resend stored nothing new
    body = receipt.body
    if body.get("rejections"):
        body = {**body, "rejections": _in_locale(body["rejections"], locale)}
    answer = audited.respond(project(body, audited.fields), status=status)
    return Pushed(receipt, answer, status, locale)


def _in_locale(rejections: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    return [
        {
            **rejection,
            "errors": [
                {**error, "message": render(reason_text(str(error["message"])), locale)}
                for error in rejection["errors"]
            ],
        }
        for rejection in rejections
    ]
