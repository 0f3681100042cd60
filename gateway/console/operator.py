"""The operator's pages of the console: partners' health, exchange and payment runs,
pushed files and their receipts, clients, keys.

Who: a person signed in with the ``operator`` role, for every page and every action
(``admin`` alone does not open them: the console's admin manages people, the operator
the gateway's machines; docs/console.md, "Operator").

Every action is a POST carrying the session's CSRF token (``checked_form``) and leaves an
audit event naming the person, in the action's own transaction (the request's
``Session``, committed after the handler returns):

- client changes go through ``gateway.clients.service`` with the person as its actor
  (``client_id`` ``console``, ``user_id`` the username): the service's own event,
  service ``clients``, the changed client among its subjects, exactly as a change over
  the API or the command line is recorded;
- an exchange run now or re-run of a failed one is queued with ``triggered_by``
  ``console`` and ``triggered_by_user`` the username (the ``client_id`` and ``user_id``
  of every audit event of the run's partner calls) and recorded as
  ``console.exchange-run`` / ``console.exchange-rerun``;
- a key rotation is recorded as ``console.signing-key-rotate`` or
  ``console.checkpoint-key-rotate`` with the new key id.

Secrets (a new client's, a rotated one) are shown once, in the answer to the POST itself,
with ``Cache-Control: no-store``; they are stored only as Argon2id hashes.

The partners' page reads this process's partner health (breakers are per process) and
asks each partner's address now whether it accepts a TCP connection
(``gateway.partners.reachability``); ``/partners/live`` is the same table alone, which
``static/operator/operator.js`` fetches every few seconds while the page is open.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from gateway.auditing.checkpoint_keys import AuditKeys, published_keys
from gateway.auth.dependencies import Session, State
from gateway.catalog.models import Catalog
from gateway.clients.repository import ClientRepository
from gateway.clients.service import (
    ROLES as CLIENT_ROLE_NAMES,
)
from gateway.clients.service import (
    Actor,
    ClientError,
    ClientNotFound,
    LastAdminDisabled,
    create_client,
    disable_client,
    enable_client,
    rotate_secret,
)
from gateway.console import operator_labels as labels
from gateway.console.operator_views import moment, partner_rows, refusals_by_reason
from gateway.console.web import ConsoleUser, checked_form, record_action, render, signed_in
from gateway.core.i18n import translations
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.problems import NotFound
from gateway.exchanges.service import ExchangeService
from gateway.inbound.feeds import FEEDS
from gateway.inbound.reasons import reason
from gateway.inbound.service import InboundService
from gateway.jobs.starters import Starter
from gateway.partners.health import PartnerHealth
from gateway.partners.reachability import reach_all
from gateway.payments.service import PaymentService, intake_reason
from gateway.settings import Settings
from gateway.signing_keys.service import KeyService

router = APIRouter(route_class=JSONBodyRoute, prefix="/console/operator", include_in_schema=False)

Operator = Annotated[ConsoleUser, Depends(signed_in("operator"))]
Form = Annotated[FormData, Depends(checked_form)]

BASE = "/console/operator"
LIST_LIMIT = 50
REFRESH_SECONDS = 5
NO_STORE = {"Cache-Control": "no-store"}


def _page(
    request: Request,
    user: ConsoleUser,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    # ``tr`` translates text that comes with the data (a stored row error, a code the
    # labels may not know) and leaves it to autoescaping, unlike ``_``, whose result
    # the i18n extension marks safe.
    tr = translations(user.locale).gettext

    def row_reason(message: str) -> str:
        # A refused row's reason as the intake words it, numbers and codes included.
        return reason(message, tr)

    response = render(
        request,
        user,
        f"operator/{template}",
        {"labels": labels, "tr": tr, "row_reason": row_reason, **context},
        status=status,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _not_found(request: Request, user: ConsoleUser) -> HTMLResponse:
    return _page(request, user, "not_found.html", {}, status=404)


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(f"{BASE}{path}", status_code=303)


def _person(user: ConsoleUser) -> Starter:
    """Who triggered a run, as the run and its audit events name it: ``console`` and
    the username."""
    return Starter.console(user.username)


# -- the area's entry ---------------------------------------------------


@router.get("")
async def home(_: Operator) -> RedirectResponse:
    return _see("/partners")


# -- partners --------------------------------------------------------------------------


async def _partners(state: State) -> list[dict[str, Any]]:
    configured = state.get(Settings).partners
    addresses: dict[str, str | None] = {
        name: getattr(getattr(configured, name, None), "base_url", None) for name in labels.PARTNERS
    }
    report = state.get(PartnerHealth).report()
    for name in report:
        addresses.setdefault(name, getattr(getattr(configured, name, None), "base_url", None))
    return partner_rows(report, addresses, await reach_all(addresses))


@router.get("/partners")
async def partners(request: Request, user: Operator, state: State) -> HTMLResponse:
    rows = await _partners(state)
    return _page(
        request, user, "partners.html", {"partners": rows, "refresh_seconds": REFRESH_SECONDS}
    )


@router.get("/partners/live")
async def partners_live(request: Request, user: Operator, state: State) -> HTMLResponse:
    """The partners' table alone, for the page's refresh."""
    rows = await _partners(state)
    return _page(request, user, "partners_table.html", {"partners": rows}, headers=NO_STORE)


# -- exchange runs ---------------------------------------------------------------------


def _exchange_label(name: str) -> str:
    return labels.EXCHANGES.get(name, name)


@router.get("/exchanges")
async def exchanges(
    request: Request,
    user: Operator,
    state: State,
    session: Session,
    exchange: Annotated[str | None, Query(max_length=64)] = None,
    run_state: Annotated[str | None, Query(alias="state", max_length=16)] = None,
) -> HTMLResponse:
    catalog = state.get(Catalog)
    if exchange not in catalog.exchanges:
        exchange = None
    if run_state not in labels.RUN_STATES:
        run_state = None
    runs = await state.get(ExchangeService).runs(
        session, LIST_LIMIT, name=exchange, state=run_state
    )
    for run in runs:
        run["created"] = moment(run["created_at"])
        run["finished"] = moment(run["finished_at"])
    declared = [
        {"name": name, "spec": spec, "label": _exchange_label(name)}
        for name, spec in catalog.exchanges.items()
    ]
    return _page(
        request,
        user,
        "exchanges.html",
        {
            "declared": declared,
            "runs": runs,
            "exchange": exchange,
            "run_state": run_state,
            "exchange_label": _exchange_label,
        },
    )


@router.get("/exchanges/{name}/runs/{run_id}")
async def exchange_run(
    name: str, run_id: str, request: Request, user: Operator, state: State, session: Session
) -> HTMLResponse:
    try:
        run = await state.get(ExchangeService).get(session, name, run_id)
        spec = state.get(ExchangeService).spec(name)
    except NotFound:
        return _not_found(request, user)
    for key in ("created_at", "started_at", "finished_at", "next_attempt_at"):
        run[key.removesuffix("_at")] = moment(run[key])
    return _page(
        request,
        user,
        "exchange_run.html",
        {"run": run, "spec": spec, "label": _exchange_label(name)},
    )


@router.post("/exchanges/{name}/runs")
async def run_exchange_now(
    name: str, request: Request, user: Operator, form: Form, state: State, session: Session
) -> Response:
    """Queue a run with the catalog's default window (the lookback up to today), as
    ``POST /v1/exchanges/{name}/runs`` with no body does."""
    service = state.get(ExchangeService)
    try:
        spec = service.spec(name)
    except NotFound:
        return _not_found(request, user)
    today = date.today()
    params = {
        "born_from": (today - timedelta(days=spec.lookback_days)).isoformat(),
        "born_to": today.isoformat(),
        "ubigeo": [],
    }
    run = await service.trigger(session, name, params, _person(user))
    assert run is not None  # only a scheduled slot can be taken already
    await record_action(
        session, user, "exchange-run", detail={"exchange": name, "run_id": run["id"]}
    )
    return _see(f"/exchanges/{name}/runs/{run['id']}")


@router.post("/exchanges/{name}/runs/{run_id}/rerun")
async def rerun_exchange(
    name: str,
    run_id: str,
    request: Request,
    user: Operator,
    form: Form,
    state: State,
    session: Session,
) -> Response:
    """Queue a new run with the same window and districts as a failed run; the failed
    run stays as it is (its records, if any, and its audit events)."""
    service = state.get(ExchangeService)
    try:
        failed = await service.get(session, name, run_id)
        service.spec(name)  # still declared in the catalog
    except NotFound:
        return _not_found(request, user)
    if failed["state"] != "failed":
        return _page(
            request,
            user,
            "refused.html",
            {
                "message": labels.N_("Only a failed run can be run again."),
                "back": f"{BASE}/exchanges/{name}/runs/{run_id}",
            },
            status=409,
        )
    run = await service.trigger(session, name, failed["params"], _person(user))
    assert run is not None
    await record_action(
        session,
        user,
        "exchange-rerun",
        detail={"exchange": name, "run_id": run["id"], "rerun_of": run_id},
    )
    return _see(f"/exchanges/{name}/runs/{run['id']}")


# -- payment runs ----------------------------------------------------------------------


@router.get("/payments")
async def payments(
    request: Request,
    user: Operator,
    state: State,
    session: Session,
    run_state: Annotated[str | None, Query(alias="state", max_length=16)] = None,
) -> HTMLResponse:
    if run_state not in labels.RUN_STATES:
        run_state = None
    runs = await state.get(PaymentService).runs(session, LIST_LIMIT, state=run_state)
    for run in runs:
        run["created"] = moment(run["created_at"])
        run["finished"] = moment(run["finished_at"])
    return _page(request, user, "payments.html", {"runs": runs, "run_state": run_state})


@router.get("/payments/{run_id}")
async def payment_run(
    run_id: str, request: Request, user: Operator, state: State, session: Session
) -> HTMLResponse:
    try:
        run = await state.get(PaymentService).view(session, run_id)
    except NotFound:
        return _not_found(request, user)
    reconciliation = run["reconciliation"]
    return _page(
        request,
        user,
        "payment_run.html",
        {
            "run": run,
            "intake_refusals": [
                {**r, "reason": intake_reason(r["reason"])}
                for r in reconciliation.get("rejected_at_intake", [])
            ],
            "reconciled_at": moment(reconciliation.get("reconciled_at")),
        },
    )


# -- pushed files and receipts ---------------------------------------------------------


@router.get("/receipts")
async def receipts(
    request: Request,
    user: Operator,
    state: State,
    session: Session,
    feed: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    inbound = state.get(InboundService)
    chosen = FEEDS.get(feed or "")
    messages = await inbound.received(
        session,
        LIST_LIMIT,
        partner=chosen.partner if chosen else None,
        kind=chosen.name if chosen else None,
    )
    totals = await inbound.feed_totals(session)
    return _page(
        request,
        user,
        "receipts.html",
        {
            "messages": messages,
            "totals": totals,
            "feeds": FEEDS,
            "feed": chosen.name if chosen else None,
        },
    )


@router.get("/receipts/{partner}/{message_id}")
async def receipt(
    partner: str,
    message_id: str,
    request: Request,
    user: Operator,
    state: State,
    session: Session,
) -> HTMLResponse:
    message = await state.get(InboundService).message(session, partner, message_id)
    if message is None:
        return _not_found(request, user)
    return _page(
        request,
        user,
        "receipt.html",
        {"message": message, "by_reason": refusals_by_reason(message["rejections"])},
    )


# -- clients ---------------------------------------------------------------------------


def _actor(request: Request, user: ConsoleUser) -> Actor:
    """The person as the client service records who made a change."""
    return Actor(
        request_id=getattr(request.state, "request_id", ""),
        client_id="console",
        user_id=user.username,
        roles=tuple(sorted(user.roles)),
    )


async def _clients_page(
    request: Request,
    user: ConsoleUser,
    state: State,
    session: Session,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    clients = await ClientRepository(session).list()
    return _page(
        request,
        user,
        "clients.html",
        {
            "clients": clients,
            "client_roles": CLIENT_ROLE_NAMES,
            "purposes": sorted(state.get(Catalog).purposes),
            "form": {},
            "errors": {},
            "issued": None,
            "done": None,
            **context,
        },
        status=status,
        headers=headers,
    )


@router.get("/clients")
async def clients(
    request: Request,
    user: Operator,
    state: State,
    session: Session,
    done: Annotated[str | None, Query(max_length=16)] = None,
    client: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    notice = None
    if done in ("enabled", "disabled") and client:
        notice = {"action": done, "client_id": client}
    return await _clients_page(request, user, state, session, done=notice)


@router.post("/clients")
async def create(
    request: Request, user: Operator, form: Form, state: State, session: Session
) -> HTMLResponse:
    name = str(form.get("name", ""))[:200]
    roles = [str(r) for r in form.getlist("roles")]
    purposes = [str(p) for p in form.getlist("purposes")]
    try:
        issued = await create_client(
            session,
            state.get(Catalog),
            name,
            roles,
            purposes,
            actor=_actor(request, user),
        )
    except ClientError as exc:
        return await _clients_page(
            request,
            user,
            state,
            session,
            status=422,
            form={"name": name, "roles": roles, "purposes": purposes},
            errors={exc.field: True},
        )
    return await _clients_page(
        request,
        user,
        state,
        session,
        status=201,
        headers=NO_STORE,
        issued={"client": issued.client, "secret": issued.secret, "action": "created"},
    )


@router.post("/clients/{client_id}/disable")
async def disable(
    client_id: str, request: Request, user: Operator, form: Form, state: State, session: Session
) -> Response:
    try:
        await disable_client(session, client_id, actor=_actor(request, user))
    except ClientNotFound:
        return _not_found(request, user)
    except LastAdminDisabled:
        await session.rollback()  # the change was flushed before the check: undo it
        return _page(
            request,
            user,
            "refused.html",
            {
                "message": labels.N_(
                    "This is the last active client with the admin role: enable or "
                    "register another one first."
                ),
                "back": f"{BASE}/clients",
            },
            status=409,
        )
    return _see(f"/clients?done=disabled&client={client_id}")


@router.post("/clients/{client_id}/enable")
async def enable(
    client_id: str, request: Request, user: Operator, form: Form, session: Session
) -> Response:
    try:
        await enable_client(session, client_id, actor=_actor(request, user))
    except ClientNotFound:
        return _not_found(request, user)
    return _see(f"/clients?done=enabled&client={client_id}")


@router.post("/clients/{client_id}/rotate-secret")
async def rotate(
    client_id: str, request: Request, user: Operator, form: Form, state: State, session: Session
) -> HTMLResponse:
    try:
        issued = await rotate_secret(session, client_id, actor=_actor(request, user))
    except ClientNotFound:
        return _not_found(request, user)
    return await _clients_page(
        request,
        user,
        state,
        session,
        headers=NO_STORE,
        issued={"client": issued.client, "secret": issued.secret, "action": "rotated"},
    )


# -- keys ------------------------------------------------------------------------------


@router.get("/keys")
async def keys(
    request: Request,
    user: Operator,
    state: State,
    session: Session,
    done: Annotated[str | None, Query(max_length=16)] = None,
    key: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    signing = await state.get(KeyService).listing(session)
    checkpoint = list(reversed(await published_keys(session)))
    for index, row in enumerate(checkpoint):
        row["state"] = "current" if index == 0 else "earlier"
        row["created"] = moment(row["created_at"])
    notice = {"what": done, "key": key} if done in ("signing", "checkpoint") and key else None
    return _page(
        request,
        user,
        "keys.html",
        {
            "signing": list(reversed(signing)),
            "checkpoint": checkpoint,
            "token_ttl_seconds": state.get(Settings).token_ttl_seconds,
            "done": notice,
        },
    )


@router.post("/keys/signing/rotate")
async def rotate_signing_key(
    request: Request, user: Operator, form: Form, state: State, session: Session
) -> Response:
    """A new token signing key; the others retire but keep verifying the tokens they
    signed until those expire (``gateway.signing_keys``)."""
    record = await state.get(KeyService).rotate(session)
    await record_action(session, user, "signing-key-rotate", detail={"kid": record.kid})
    return _see(f"/keys?done=signing&key={record.kid}")


@router.post("/keys/checkpoint/rotate")
async def rotate_checkpoint_key(
    request: Request, user: Operator, form: Form, state: State, session: Session
) -> Response:
    """A new audit checkpoint key: the next checkpoints are signed with it; the earlier
    ones stay published and keep verifying what they signed (``GET /v1/audit/keys``)."""
    key_id = await state.get(AuditKeys).rotate(session)
    await record_action(session, user, "checkpoint-key-rotate", detail={"key_id": key_id})
    return _see(f"/keys?done=checkpoint&key={key_id}")
