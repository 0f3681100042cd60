"""The auditor's pages of the console: search the audit log, export a search, verify
the chain with its progress, and a person's disclosure report on screen and as PDF.

Every page opens to the ``auditor`` role only, and every look at the log is itself an
audit event naming the person who looked (``console.audit-search``,
``console.audit-export``, ``console.audit-verify``, ``console.disclosure-report``),
with the searched person's pseudonyms as its subjects, never their number.

A person is looked up by DNI or CUI typed into a form sent with GET, as the auditors'
API takes it in its query, so that a result page can be bookmarked, paged and
exported; the gateway logs routes by template, never a query.

Verification runs a stretch of the chain per request (``gateway.auditing.verification``):
the page of each stretch shows the progress and moves on to the next by itself (a meta
refresh, no script). The state between stretches travels in the address, signed with a
key derived from the master key and bound to the person's session, so any process may
serve the next stretch and nobody can pass off a verification they did not run.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from gateway.auditing import verification
from gateway.auditing.labels import N_, OUTCOMES, Labels
from gateway.auditing.repository import chain_extent
from gateway.auditing.search import (
    DECISIONS,
    EXPORT_COLUMNS,
    export_lines,
    parse_filters,
    search_page,
)
from gateway.auth.dependencies import Session
from gateway.catalog.models import Catalog
from gateway.clients.repository import ClientRepository
from gateway.console.web import ConsoleUser, checked_form, record_action, render, signed_in
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.limits import BIGINT_MAX
from gateway.core.pseudonyms import Pseudonymizer
from gateway.core.web import components
from gateway.identifiers import IdentifierError, parse_document
from gateway.settings import Settings
from gateway.subjects.disclosure_pdf import render_disclosure_pdf
from gateway.subjects.service import (
    disclosure_report,
    disclosures_page,
    subject_refs,
)

router = APIRouter(route_class=JSONBodyRoute, prefix="/console/auditor", include_in_schema=False)

Auditor = Annotated[ConsoleUser, Depends(signed_in("auditor"))]

PAGE_SIZE = 50
REPORT_PAGE_SIZE = 100
VERIFY_TOKEN_SECONDS = 3600


def _labels(request: Request, user: ConsoleUser) -> Labels:
    return Labels(user.locale, components(request).get(Catalog))


async def _choices(request: Request, session: Session, labels: Labels) -> dict[str, Any]:
    """The lists the search form offers, each (value, label), sorted by label."""
    catalog = components(request).get(Catalog)
    clients = sorted(
        ((c.id, f"{c.name} ({c.id})") for c in await ClientRepository(session).list()),
        key=lambda pair: pair[1].lower(),
    )
    clients.append(("console", labels.text(N_("Console (people signed in)"))))
    return {
        "clients": clients,
        "purposes": sorted(
            ((p, labels.purpose(p)) for p in catalog.purposes), key=lambda pair: pair[1]
        ),
        "services": sorted(
            ((s, labels.service(s)) for s in catalog.services), key=lambda pair: pair[1]
        ),
        "decisions": [(d, labels.decision(d)) for d in DECISIONS],
        "outcomes": sorted(((o, labels.outcome(o)) for o in OUTCOMES), key=lambda p: p[1]),
    }


def _cursor(value: str | None) -> int | None:
    """A page cursor from the address; anything else is no cursor (the first page)
    rather than an error a person cannot act on."""
    if value is None or not value.isdigit() or int(value) > BIGINT_MAX:
        return None
    return int(value)


def _link(path: str, params: dict[str, Any]) -> str:
    kept = {k: v for k, v in params.items() if v is not None}
    return f"{path}?{urlencode(kept)}" if kept else path


@router.get("")
async def search(
    request: Request,
    session: Session,
    user: Auditor,
    after_text: Annotated[str | None, Query(alias="after")] = None,
    before_text: Annotated[str | None, Query(alias="before")] = None,
) -> Response:
    """The search form; with ``search`` (the form's button) or a cursor, a page of the
    events it matches, newest first (an audited look at the log)."""
    after, before = _cursor(after_text), _cursor(before_text)
    labels = _labels(request, user)
    params = {k: v for k, v in request.query_params.items()}
    filters, errors = parse_filters(params)
    searched = "search" in params or after is not None or before is not None
    context: dict[str, Any] = {
        "labels": labels,
        "form": params,
        "errors": errors,
        "searched": searched and not errors,
        "filters": filters,
        **await _choices(request, session, labels),
    }
    if searched and not errors:
        pseudonyms = components(request).get(Pseudonymizer)
        refs = filters.subject_refs(pseudonyms)
        page = await search_page(
            session,
            filters.query(pseudonyms),
            refs,
            after=after,
            before=before,
            limit=PAGE_SIZE,
        )
        await record_action(
            session,
            user,
            "audit-search",
            subjects=list(refs),
            detail={
                **filters.detail(),
                **{k: v for k, v in (("after", after), ("before", before)) if v is not None},
            },
        )
        base = {**filters.params(), "search": "1"}
        context.update(
            page=page,
            newer_link=(
                _link("/console/auditor", {**base, "after": page.newer})
                if page.newer is not None
                else None
            ),
            older_link=(
                _link("/console/auditor", {**base, "before": page.older})
                if page.older is not None
                else None
            ),
            first_link=(
                _link("/console/auditor", base) if after is not None or before is not None else None
            ),
            export_link=_link("/console/auditor/events/export", filters.params()),
            report_link=(
                _link("/console/auditor/person", {"document": filters.subject})
                if filters.subject is not None
                else None
            ),
        )
    status = 422 if errors else 200
    return render(request, user, "auditor/search.html", context, status=status)


@router.get("/events/export")
async def export(request: Request, session: Session, user: Auditor) -> Response:
    """Every event the search matches, oldest first, as CSV (the API's columns)."""
    filters, errors = parse_filters(dict(request.query_params))
    if errors:
        return RedirectResponse(
            _link("/console/auditor", {**dict(request.query_params), "search": "1"}),
            status_code=303,
        )
    pseudonyms = components(request).get(Pseudonymizer)
    refs = filters.subject_refs(pseudonyms)
    await record_action(session, user, "audit-export", subjects=list(refs), detail=filters.detail())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = _labels(request, user).text(N_("audit-events")) + f"-{stamp}.csv"
    return StreamingResponse(
        export_lines(
            components(request).sessions, filters.query(pseudonyms), EXPORT_COLUMNS, "csv"
        ),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


# ---------------------------------------------------------------- verification


def _token_key(request: Request) -> bytes:
    master = components(request).get(Settings).master_key_bytes
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"juntos-gateway/console-verify"
    ).derive(master)


def _sign(request: Request, user: ConsoleUser, check: verification.ChainCheck) -> str:
    body = json.dumps(
        {"check": check.as_dict(), "expires": int(time.time()) + VERIFY_TOKEN_SECONDS},
        separators=(",", ":"),
    ).encode()
    mac = hmac.new(_token_key(request), body + b"\0" + user.csrf_token.encode(), hashlib.sha256)
    encode = base64.urlsafe_b64encode
    return encode(body).decode().rstrip("=") + "." + encode(mac.digest()).decode().rstrip("=")


def _unsign(request: Request, user: ConsoleUser, token: str) -> verification.ChainCheck | None:
    """The state a token of this person's session carries, or None (forged, of another
    session, expired, malformed)."""
    try:
        body_part, mac_part = token.split(".")
        body = base64.urlsafe_b64decode(body_part + "=" * (-len(body_part) % 4))
        mac = base64.urlsafe_b64decode(mac_part + "=" * (-len(mac_part) % 4))
    except ValueError:
        return None
    expected = hmac.new(
        _token_key(request), body + b"\0" + user.csrf_token.encode(), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        values = json.loads(body)
        if values["expires"] < time.time():
            return None
        return verification.ChainCheck.from_dict(values["check"])
    except (ValueError, KeyError, TypeError):
        return None


def _stale(request: Request, user: ConsoleUser) -> Response:
    return render(
        request,
        user,
        "auditor/verify.html",
        {"stale": True},
        status=400,
    )


@router.get("/verify")
async def verify_page(request: Request, user: Auditor) -> Response:
    return render(request, user, "auditor/verify.html", {"stale": False})


@router.post("/verify")
async def verify_start(
    request: Request,
    session: Session,
    user: Auditor,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Start a verification of the whole chain: 303 to its progress page at 0 %."""
    check = verification.start(*await chain_extent(session))
    await record_action(session, user, "audit-verify", detail={"events": check.total})
    return RedirectResponse(
        _link("/console/auditor/verify/progress", {"state": _sign(request, user, check)}),
        status_code=303,
    )


@router.get("/verify/progress")
async def verify_progress(request: Request, user: Auditor, state: str = "") -> Response:
    """How far a verification got, without checking anything; the page asks for the
    next stretch by itself."""
    check = _unsign(request, user, state)
    if check is None:
        return _stale(request, user)
    if check.done:
        return RedirectResponse(
            _link("/console/auditor/verify/result", {"state": state}), status_code=303
        )
    return render(
        request,
        user,
        "auditor/verify_progress.html",
        {"check": check, "next": _link("/console/auditor/verify/run", {"state": state})},
    )


@router.get("/verify/run")
async def verify_run(
    request: Request, session: Session, user: Auditor, state: str = ""
) -> Response:
    """Check the next stretch; the progress page (which asks for the stretch after),
    or, once done, 303 to the result."""
    check = _unsign(request, user, state)
    if check is None:
        return _stale(request, user)
    if not check.done:
        settings = components(request).get(Settings)
        check = await asyncio.to_thread(
            verification.step, settings.database_url, check, settings.audit_verify_stretch
        )
    token = _sign(request, user, check)
    if check.done:
        await record_action(
            session,
            user,
            "audit-verify-result",
            detail={
                "chain_ok": check.ok,
                "events_checked": check.events_checked,
                "checkpoints_checked": check.checkpoints_checked,
                "first_broken_seq": check.first_broken_seq,
            },
        )
        return RedirectResponse(
            _link("/console/auditor/verify/result", {"state": token}), status_code=303
        )
    return render(
        request,
        user,
        "auditor/verify_progress.html",
        {"check": check, "next": _link("/console/auditor/verify/run", {"state": token})},
    )


@router.get("/verify/result")
async def verify_result(request: Request, user: Auditor, state: str = "") -> Response:
    check = _unsign(request, user, state)
    if check is None or not check.done:
        return _stale(request, user)
    return render(request, user, "auditor/verify_result.html", {"check": check})


# ---------------------------------------------------------------- a person's report


def _document(value: str | None) -> tuple[str | None, str | None]:
    """(the canonical number, or the error's message id); (None, None) when blank."""
    if value is None or not value.strip():
        return None, None
    try:
        return parse_document(value).number, None
    except IdentifierError:
        return None, N_("Type the 8 digits of the DNI or CUI, optionally with its check digit.")


@router.get("/person")
async def person(
    request: Request,
    session: Session,
    user: Auditor,
    document: str | None = None,
    after_text: Annotated[str | None, Query(alias="after")] = None,
) -> Response:
    """The form for a DNI or CUI; with one, the person's disclosures, oldest first, a
    page at a time (audited as a look at the person)."""
    number, error = _document(document)
    after = _cursor(after_text)
    context: dict[str, Any] = {
        "labels": _labels(request, user),
        "document": document or "",
        "error": error,
        "number": number,
    }
    if number is not None:
        state = components(request)
        page = await disclosures_page(
            session,
            state.get(Pseudonymizer),
            state.get(Catalog),
            number,
            after or 0,
            REPORT_PAGE_SIZE,
        )
        await record_action(
            session,
            user,
            "disclosure-report",
            subjects=list(subject_refs(state.get(Pseudonymizer), number)),
            detail={"after": after} if after else None,
        )
        context.update(
            page=page,
            after=after,
            next_link=(
                _link("/console/auditor/person", {"document": number, "after": page.next_after})
                if page.next_after is not None
                else None
            ),
            first_link=(_link("/console/auditor/person", {"document": number}) if after else None),
            pdf_link=_link("/console/auditor/person/pdf", {"document": number}),
            events_link=_link("/console/auditor", {"subject": number, "search": "1"}),
        )
    return render(request, user, "auditor/person.html", context, status=422 if error else 200)


@router.get("/person/pdf")
async def person_pdf(
    request: Request, session: Session, user: Auditor, document: str | None = None
) -> Response:
    """The person's disclosure report as a PDF download (every disclosure, and the
    verification of the chain run for it); audited like the page."""
    number, _error = _document(document)
    if number is None:
        return RedirectResponse(
            _link("/console/auditor/person", {"document": document}), status_code=303
        )
    state = components(request)
    report = await disclosure_report(
        session,
        state.get(Pseudonymizer),
        state.get(Catalog),
        number,
        state.get(Settings).database_url,
    )
    pdf = await asyncio.to_thread(render_disclosure_pdf, report, user.locale)
    await record_action(
        session,
        user,
        "disclosure-report-pdf",
        subjects=list(subject_refs(state.get(Pseudonymizer), number)),
        detail={
            "disclosures": len(report.disclosures),
            "chain_ok": report.chain.ok if report.chain else None,
        },
    )
    stamp = report.generated_at.strftime("%Y%m%d-%H%M%S")
    name = _labels(request, user).text(N_("disclosure-report")) + f"-{stamp}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
