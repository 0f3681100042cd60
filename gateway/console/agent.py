"""The partner agent's pages: upload a file to one of the partner's feeds, read its
receipt, find earlier uploads.

A partner agent (console role ``partner-agent``) belongs to one partner
(``ConsoleUser.partner``, e.g. ``minsa_his``) and sees and pushes that partner's feeds
only; another partner's feed answers a 403 page.

An upload is the API's push, not a copy of it: the file goes through
``gateway.inbound.intake`` exactly as a body sent to ``POST /v1/inbound/...`` does, as
client ``console`` acting for the person (``user_id`` = username, in the push's own audit
event and kept with the message), with the same row checks, signed receipt, notices to
subscribers and size limits. The API needs a message id; the console derives it from the
feed and the file's SHA-256 (``health-records-<hex>``), so uploading the same file again
returns the first receipt and stores nothing twice. Each upload is also recorded as
``console.agent-upload`` naming the person (outcome ``ok``, ``replayed`` or ``refused``).

A file the intake refuses whole (a header that does not name the feed's columns, a wrong
encoding, too large) is shown again on the upload page with the reason in the agent's
language, naming the column or line; nothing of it is kept, and earlier uploads keep
their receipts. Row errors name the row, the column and the reason, never a value.

Routes (HTML, not in the API's contract):

- ``GET /console/agent``: the partner's feeds, what each reads, and the agent's uploads.
- ``GET /console/agent/feeds/{feed}``: the upload form of one feed.
- ``POST /console/agent/feeds/{feed}``: multipart (``file``, ``encoding``,
  ``delimiter``, ``csrf_token``); 303 to the receipt, or the form again with 4xx.
- ``GET /console/agent/receipts/{feed}/{message_id}``: a receipt, refused rows grouped
  by reason, and the agent's uploads.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Annotated, Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from gateway.auth.dependencies import Principal, Session
from gateway.calls.audited import Call
from gateway.catalog.models import Catalog
from gateway.console.agent_texts import N_, refusal
from gateway.console.web import ConsoleUser, checked_form, record_action, render, signed_in
from gateway.core.db import transaction
from gateway.core.i18n import number_locale, translations
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.limits import body_limit
from gateway.core.problems import ProblemError
from gateway.core.web import components
from gateway.inbound.feeds import FEEDS, Feed
from gateway.inbound.intake import (
    DOCUMENTS,
    MAX_STREAM_BYTES,
    Format,
    Pushed,
    formats,
    push_document,
    push_rows,
    read_document,
    size_limit,
)
from gateway.inbound.reading import CSV, NDJSON, Delimiter
from gateway.inbound.reasons import reason
from gateway.inbound.service import InboundService, PushedMessage, Receipt

router = APIRouter(route_class=JSONBodyRoute, prefix="/console/agent", include_in_schema=False)

Agent = Annotated[ConsoleUser, Depends(signed_in("partner-agent"))]

CLIENT_ID = "console"
BLOCK = 256 * 1024  # read from the file's spooled copy, as a body's blocks
# Room for the multipart framing and the form's other fields around the largest file.
FORM_OVERHEAD = 64 * 1024
UPLOADS_SHOWN = 20
ROWS_SHOWN = 50

PARTNERS = {
    "reniec": N_("RENIEC (civil registry)"),
    "minsa_his": N_("MINSA HIS (health services)"),
    "osiptel": N_("OSIPTEL (telecom regulator)"),
    "bn": N_("Banco de la Nación"),
}
FEED_TITLES = {
    "births": N_("Births"),
    "health-records": N_("Health service records (HIS)"),
    "line-changes": N_("Mobile line changes"),
    "payment-status": N_("Payment status (pain.002)"),
    "settlements": N_("Settlements (camt.054)"),
}
FORMAT_NAMES = {
    "csv": N_("CSV with a header line (comma, semicolon or tab; Excel exports included)"),
    "ndjson": N_("NDJSON (one JSON object a line)"),
    "xml": N_("ISO 20022 XML document"),
}
EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".xml": "xml",
}
ENCODINGS = {
    "utf-8": N_("UTF-8 (Excel's \u201cCSV UTF-8\u201d)"),
    "windows-1252": N_("Windows-1252 (Excel's \u201cCSV (comma delimited)\u201d on Windows)"),
    "iso-8859-1": "ISO-8859-1",
}
DELIMITERS: dict[str, str] = {
    "": N_("Detect"),
    "comma": N_("Comma (,)"),
    "semicolon": N_("Semicolon (;)"),
    "tab": N_("Tab"),
}


@dataclass(frozen=True)
class FeedView:
    """A feed as the agent's pages show it."""

    name: str
    title: str
    fields: tuple[str, ...]
    formats: tuple[Format, ...]
    limit: int
    extensions: str  # for the file input's ``accept``

    @property
    def rows(self) -> bool:
        return "xml" not in self.formats


def _view(feed: Feed) -> FeedView:
    kinds = formats(feed)
    accept = ",".join(ext for ext, kind in EXTENSIONS.items() if kind in kinds)
    return FeedView(feed.name, FEED_TITLES[feed.name], feed.fields, kinds, size_limit(feed), accept)


def _feeds_of(user: ConsoleUser) -> list[Feed]:
    return [feed for feed in FEEDS.values() if feed.partner == user.partner]


def _size(limit: int, locale: str) -> str:
    """A byte count as a person reads it (``1 GiB``, ``25 MiB``)."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if limit >= size:
            return f"{format_decimal(round(limit / size, 1), locale=number_locale(locale))} {unit}"
    return f"{limit} B"


def _refuse(request: Request, user: ConsoleUser, heading: str, message: str) -> HTMLResponse:
    return render(request, user, "error.html", {"heading": heading, "message": message}, 403)


def _no_partner(request: Request, user: ConsoleUser) -> HTMLResponse:
    return _refuse(
        request,
        user,
        N_("No partner assigned"),
        N_("Your account is not linked to a partner; an administrator links it."),
    )


def _own_feed(request: Request, user: ConsoleUser, name: str) -> Feed | HTMLResponse:
    """The feed ``name`` when it is one of the agent's partner's; a 403 page otherwise
    (also for an agent with no partner assigned)."""
    if user.partner is None:
        return _no_partner(request, user)
    feed = FEEDS.get(name)
    if feed is None or feed.partner != user.partner:
        return _refuse(
            request,
            user,
            N_("Not your partner's feed"),
            N_("You may upload files only to the feeds of your own partner."),
        )
    return feed


async def _uploads(request: Request, user: ConsoleUser) -> list[PushedMessage]:
    inbound = components(request).get(InboundService)
    if user.partner is None:
        return []
    return await inbound.pushed_by(user.partner, CLIENT_ID, user.username, UPLOADS_SHOWN)


@router.get("", response_class=HTMLResponse)
async def agent_home(request: Request, user: Agent) -> Response:
    """The partner's feeds and the agent's uploads."""
    if user.partner is None:
        return _no_partner(request, user)
    return render(
        request,
        user,
        "agent/index.html",
        {
            "partner": PARTNERS.get(user.partner, user.partner),
            "feeds": [_view(feed) for feed in _feeds_of(user)],
            "format_names": FORMAT_NAMES,
            "size": lambda limit: _size(limit, user.locale),
            "uploads": await _uploads(request, user),
            "feed_titles": FEED_TITLES,
        },
    )


def _form_page(
    request: Request,
    user: ConsoleUser,
    feed: Feed,
    *,
    problems: list[str] | None = None,
    chosen: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        user,
        "agent/feed.html",
        {
            "partner": PARTNERS.get(feed.partner, feed.partner),
            "feed": _view(feed),
            "format_names": FORMAT_NAMES,
            "encodings": ENCODINGS,
            "delimiters": DELIMITERS,
            "size": lambda limit: _size(limit, user.locale),
            "problems": problems or [],
            "chosen": chosen or {"encoding": "utf-8", "delimiter": ""},
            "example": (",".join(feed.fields)),
        },
        status=status,
    )


@router.get("/feeds/{feed_name}", response_class=HTMLResponse)
async def agent_feed(request: Request, user: Agent, feed_name: str) -> Response:
    """The upload form of one of the partner's feeds."""
    feed = _own_feed(request, user, feed_name)
    if isinstance(feed, HTMLResponse):
        return feed
    return _form_page(request, user, feed)


def _call(request: Request, user: ConsoleUser, feed: Feed) -> Call:
    """The push as the API's audited call: client ``console``, acting for the person,
    with the partner role and the purpose the catalog names for the feed's service."""
    state = components(request)
    purposes = sorted(state.get(Catalog).services[feed.service].purposes)
    principal = Principal(
        client_id=CLIENT_ID,
        name=user.display_name,
        roles=frozenset({"partner"}),
        purposes=frozenset(purposes),
    )
    return Call(request, state, principal, purposes[0], user.username)


async def _digest(upload: UploadFile) -> tuple[str, int]:
    """The file's SHA-256 (hex) and size, read once from its spooled copy."""
    digest, size = hashlib.sha256(), 0
    await upload.seek(0)
    while block := await upload.read(BLOCK):
        digest.update(block)
        size += len(block)
    await upload.seek(0)
    return digest.hexdigest(), size


async def _blocks(upload: UploadFile) -> AsyncIterator[bytes]:
    while block := await upload.read(BLOCK):
        yield block


@router.post(
    "/feeds/{feed_name}",
    response_class=HTMLResponse,
    openapi_extra=body_limit(MAX_STREAM_BYTES + FORM_OVERHEAD),
)
async def agent_upload(request: Request, user: Agent, session: Session, feed_name: str) -> Response:
    """Push the uploaded file to the feed; 303 to its receipt, or the form again with
    the reasons the whole file was refused (4xx). The form is CSRF-checked by
    ``checked_form`` here rather than as a dependency, so that the file's spooled copy
    on disk is closed whatever the answer, a refused form's included."""
    form = await request.form()
    try:
        await checked_form(request, session)
        return await _upload(request, user, form, session, feed_name)
    finally:
        await form.close()


async def _upload(
    request: Request, user: ConsoleUser, form: FormData, session: AsyncSession, feed_name: str
) -> Response:
    feed = _own_feed(request, user, feed_name)
    if isinstance(feed, HTMLResponse):
        return feed
    gettext = translations(user.locale).gettext
    encoding = str(form.get("encoding") or "utf-8")
    delimiter = str(form.get("delimiter") or "")
    chosen = {"encoding": encoding, "delimiter": delimiter}
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        problems = [gettext("Choose a file to upload.")]
        return _form_page(request, user, feed, problems=problems, chosen=chosen, status=422)
    kind = EXTENSIONS.get(PurePath(file.filename).suffix.lower())
    if kind not in formats(feed) or encoding not in ENCODINGS or delimiter not in DELIMITERS:
        problems = [
            gettext("This feed reads files ending in {extensions}.").format(
                extensions=", ".join(_view(feed).extensions.split(","))
            )
        ]
        return _form_page(request, user, feed, problems=problems, chosen=chosen, status=422)
    assert kind is not None
    sha256, size = await _digest(file)
    message_id = f"{feed.name}-{sha256}"
    # The intake commits in its own steps (``gateway.inbound.service``). The request's
    # transaction already wrote (the session's last activity), and SQLite has one writer:
    # it is committed now, and the upload's events commit in a transaction of their own.
    await session.commit()
    sessions = components(request).sessions
    try:
        async with transaction(sessions) as own:
            pushed = await _push(request, user, feed, own, message_id, kind, file, size, chosen)
            receipt = pushed.receipt
            await record_action(
                own,
                user,
                "agent-upload",
                outcome="replayed" if receipt.replayed else "ok",
                detail={
                    "feed": feed.name,
                    "message_id": message_id,
                    "rows_accepted": receipt.body["rows_accepted"],
                    "rows_rejected": receipt.body["rows_rejected"],
                },
            )
    except ProblemError as exc:
        async with transaction(sessions) as own:
            await record_action(
                own,
                user,
                "agent-upload",
                outcome="refused",
                detail={"feed": feed.name, "body_sha256": sha256, "problem": exc.problem.slug},
                status=exc.problem.status,
            )
        problems = refusal(exc, gettext, _size(size_limit(feed), user.locale))
        status = exc.problem.status if 400 <= exc.problem.status < 500 else 422
        return _form_page(request, user, feed, problems=problems, chosen=chosen, status=status)
    target = f"/console/agent/receipts/{feed.name}/{message_id}"
    return RedirectResponse(target + ("?again=1" if receipt.replayed else ""), status_code=303)


async def _push(
    request: Request,
    user: ConsoleUser,
    feed: Feed,
    session: AsyncSession,
    message_id: str,
    kind: Format,
    file: UploadFile,
    size: int,
    chosen: dict[str, str],
) -> Pushed:
    """The file pushed as the API pushes a body: a document whole, rows streamed."""
    call = _call(request, user, feed)
    if kind == "xml":
        return await push_document(
            call, session, feed, message_id, lambda: read_document(_blocks(file))
        )
    media = CSV if kind == "csv" else NDJSON
    return await push_rows(
        call,
        session,
        feed,
        message_id,
        f"{media}; charset={chosen['encoding']}",
        _delimiter(chosen["delimiter"]) if kind == "csv" else None,
        _blocks(file),
        size,
    )


def _delimiter(name: str) -> Delimiter | None:
    if name == "comma":
        return "comma"
    if name == "semicolon":
        return "semicolon"
    if name == "tab":
        return "tab"
    return None


WHOLE_ROW = N_("(the whole row)")


@dataclass(frozen=True)
class Refusal:
    """Refused rows sharing one field and reason."""

    field: str
    reason: str
    rows: list[int]


def _grouped(receipt: Receipt, gettext: Any) -> list[Refusal]:
    """The receipt's refused rows grouped by (field, reason), in order of first row."""
    groups: dict[tuple[str, str], list[int]] = {}
    for rejection in receipt.body["rejections"]:
        for error in rejection["errors"]:
            field = str(error["field"])
            shown = gettext(WHOLE_ROW) if field == "row" else field  # an unreadable row
            key = (shown, reason(str(error["message"]), gettext))
            groups.setdefault(key, []).append(int(rejection["row"]))
    return [Refusal(field, why, rows) for (field, why), rows in groups.items()]


@router.get("/receipts/{feed_name}/{message_id}", response_class=HTMLResponse)
async def agent_receipt(
    request: Request, user: Agent, feed_name: str, message_id: str, again: bool = False
) -> Response:
    """One receipt of the partner's feed, its refused rows by reason, and the uploads."""
    feed = _own_feed(request, user, feed_name)
    if isinstance(feed, HTMLResponse):
        return feed
    receipt = await components(request).get(InboundService).receipt(feed, message_id)
    if receipt is None:
        return render(
            request,
            user,
            "error.html",
            {
                "heading": N_("No such receipt"),
                "message": N_("This feed has no receipt with this message id."),
            },
            status=404,
        )
    gettext = translations(user.locale).gettext
    body = receipt.body
    return render(
        request,
        user,
        "agent/receipt.html",
        {
            "partner": PARTNERS.get(feed.partner, feed.partner),
            "feed": _view(feed),
            "receipt": body,
            "again": again,
            "refusals": _grouped(receipt, gettext),
            "listed": len(body["rejections"]),
            "rows_shown": ROWS_SHOWN,
            "document": DOCUMENTS.get(feed.name),
            "uploads": await _uploads(request, user),
            "feed_titles": FEED_TITLES,
        },
    )
