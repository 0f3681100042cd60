"""The console's own pages: sign-in (password, or an OpenID Connect provider when one
is configured: ``gateway.console.oidc``), sign-out, the home page, the language switch,
the administrators' list of console users; and :func:`install`, which adds the console
to the app (its pages, its static files, the answer of its dependencies, its not-found
page).

Sign-in (``POST /console/login``) records one audit event per attempt:
``console.sign-in`` with outcome ``ok``, ``wrong-password``, ``unknown-user`` (no
``user_id``: what was typed may not be a username at all), ``locked``, ``locked-now``
(this failure locked the account; also ``console.lockout``) or ``disabled``. Every
refusal shows the same message (see ``gateway.console.service``).
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.auth.dependencies import Session
from gateway.console import oidc, service
from gateway.console.service import Actor, current_request_id
from gateway.console.web import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    STATIC,
    ConsoleAnswer,
    ConsoleUser,
    _,
    checked_form,
    current_user,
    record_action,
    render,
    safe_next,
    set_cookie,
    settings_of,
    signed_in,
)
from gateway.core.errors import allowed_methods
from gateway.core.i18n import LOCALES
from gateway.core.jsonbody import JSONBodyRoute

router = APIRouter(route_class=JSONBodyRoute, prefix="/console", include_in_schema=False)

User = Annotated[ConsoleUser, Depends(signed_in())]
Form = Annotated[FormData, Depends(checked_form)]


@router.get("", response_class=HTMLResponse)
async def home(request: Request, user: User) -> HTMLResponse:
    return render(request, user, "home.html", {})


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, session: Session, next: str = "/console", expired: bool = False
) -> Response:
    if await current_user(request, session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(
        request, None, "login.html", {"next": safe_next(next), "expired": expired, "failed": False}
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: Session, form: Form) -> Response:
    username = str(form.get("username") or "").strip().lower()[:64]
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    policy = settings_of(request).console
    result = await service.sign_in(session, username, password, policy)
    account = result.account
    if result.outcome != "ok" or account is None:
        actor = Actor(username if result.known else "", (), "console", current_request_id())
        await service.audit(
            session,
            actor,
            "sign-in",
            outcome=result.outcome,
            subjects=[f"console-user:{username}"] if result.known else [],
        )
        if result.outcome == "locked-now":
            await service.audit(
                session,
                actor,
                "lockout",
                subjects=[f"console-user:{username}"],
                detail={"seconds": policy.lockout_seconds},
            )
        return render(
            request,
            None,
            "login.html",
            {
                "next": target,
                "expired": False,
                "failed": True,
                "username": username,
                "attempts": policy.lockout_attempts,
                "minutes": max(1, policy.lockout_seconds // 60),
            },
            status=401,
        )
    opened = await service.open_session(session, account, policy)
    await service.audit(
        session,
        Actor(account.username, tuple(account.roles), "console", current_request_id()),
        "sign-in",
        subjects=[f"console-user:{account.username}"],
    )
    answer = RedirectResponse(target, status_code=303)
    set_cookie(request, answer, SESSION_COOKIE, opened.token)
    answer.delete_cookie(CSRF_COOKIE, path="/console")
    return answer


@router.post("/logout")
async def logout(request: Request, session: Session, user: User, form: Form) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    await service.close_session(session, token)
    await record_action(session, user, "sign-out", subjects=[f"console-user:{user.username}"])
    answer = RedirectResponse("/console/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/console")
    return answer


@router.post("/language")
async def language(request: Request, form: Form) -> Response:
    """Keep the chosen language in the ``lang`` cookie (a year) and go back."""
    chosen = str(form.get("lang") or "")
    answer = RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)
    if chosen in LOCALES:
        set_cookie(request, answer, LANG_COOKIE, chosen, max_age=365 * 86400)
    return answer


def _partner_names(request: Request) -> set[str]:
    return set(type(settings_of(request).partners).model_fields)


@router.get("/login/oidc")
async def oidc_start(request: Request, next: str = "/console") -> Response:
    """Send the browser to the identity provider (when one is configured)."""
    settings = settings_of(request)
    policy = settings.console
    if not policy.oidc_enabled:
        raise StarletteHTTPException(404)
    callback = oidc.redirect_uri(policy, str(request.base_url))
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            url, flow = await oidc.start(client, policy, callback, safe_next(next))
    except oidc.OidcRefused as exc:
        return await _oidc_refused(request, None, str(exc))
    answer = RedirectResponse(url, status_code=303)
    answer.set_cookie(
        oidc.FLOW_COOKIE,
        oidc.seal(settings.master_key_bytes, flow),
        max_age=oidc.FLOW_SECONDS,
        path=oidc.FLOW_PATH,
        secure=not settings.is_sandbox,
        httponly=True,
        samesite="lax",
    )
    return answer


@router.get("/login/oidc/callback")
async def oidc_callback(
    request: Request, session: Session, code: str = "", state: str = ""
) -> Response:
    """The provider's redirect back: check its answer, then open a console session."""
    settings = settings_of(request)
    policy = settings.console
    if not policy.oidc_enabled:
        raise StarletteHTTPException(404)
    callback = oidc.redirect_uri(policy, str(request.base_url))
    try:
        flow = oidc.unseal(settings.master_key_bytes, request.cookies.get(oidc.FLOW_COOKIE))
        async with httpx.AsyncClient(timeout=10) as client:
            identity = await oidc.finish(
                client, policy, flow, code=code, state=state, callback=callback
            )
        account = await service.external_account(
            session,
            identity.username,
            identity.roles,
            display_name=identity.display_name,
            partner=identity.partner,
            partners=_partner_names(request),
        )
    except oidc.OidcRefused as exc:
        return await _oidc_refused(request, session, str(exc))
    except service.AccountError as exc:
        return await _oidc_refused(request, session, f"{exc.field}: {exc}")
    if account is None:
        return await _oidc_refused(request, session, "account disabled", identity.username)
    opened = await service.open_session(session, account, policy)
    await service.audit(
        session,
        Actor(account.username, tuple(account.roles), "console", current_request_id()),
        "sign-in",
        subjects=[f"console-user:{account.username}"],
        detail={"method": "oidc"},
    )
    answer = RedirectResponse(safe_next(str(flow.get("next") or "")), status_code=303)
    set_cookie(request, answer, SESSION_COOKIE, opened.token)
    answer.delete_cookie(oidc.FLOW_COOKIE, path=oidc.FLOW_PATH)
    return answer


async def _oidc_refused(
    request: Request, session: AsyncSession | None, reason: str, username: str = ""
) -> HTMLResponse:
    if session is not None:
        await service.audit(
            session,
            Actor(username, (), "console", current_request_id()),
            "sign-in",
            outcome="oidc-refused",
            detail={"method": "oidc", "reason": reason[:120]},
        )
    answer = render(
        request,
        None,
        "login.html",
        {"next": "/console", "expired": False, "failed": False, "oidc_failed": True},
        status=401,
    )
    answer.delete_cookie(oidc.FLOW_COOKIE, path=oidc.FLOW_PATH)
    return answer


Admin = Annotated[ConsoleUser, Depends(signed_in("admin"))]


def _users_actor(user: ConsoleUser) -> Actor:
    return Actor(user.username, tuple(sorted(user.roles)), "console", current_request_id())


async def _users_page(
    request: Request, session: Session, user: ConsoleUser, status: int = 200, **context: object
) -> HTMLResponse:
    return render(
        request,
        user,
        "admin/users.html",
        {"accounts": await service.accounts(session), "now": datetime.now(UTC), **context},
        status=status,
    )


@router.get("/users", response_class=HTMLResponse)
async def users(request: Request, session: Session, user: Admin) -> HTMLResponse:
    """Administrators: every console user, their roles and state."""
    return await _users_page(request, session, user)


@router.post("/users/{username}/disable", response_class=HTMLResponse)
async def disable_user(
    request: Request, session: Session, user: Admin, form: Form, username: str
) -> HTMLResponse:
    """Disable an account (not one's own): refused at sign-in, its sessions ended."""
    if username == user.username:
        return await _users_page(
            request, session, user, error=_("You cannot disable your own account."), status=409
        )
    try:
        await service.disable_account(session, username, actor=_users_actor(user))
    except service.AccountNotFound:
        return await _users_page(
            request, session, user, status=404, error=_("No such console user.")
        )
    return await _users_page(request, session, user, done=username)


@router.post("/users/{username}/reset-password", response_class=HTMLResponse)
async def reset_user_password(
    request: Request, session: Session, user: Admin, form: Form, username: str
) -> HTMLResponse:
    """A new generated password, shown once on the answer page; lifts a lockout."""
    try:
        password = await service.reset_password(session, username, actor=_users_actor(user))
    except service.AccountNotFound:
        return await _users_page(
            request, session, user, status=404, error=_("No such console user.")
        )
    return await _users_page(
        request, session, user, new_password={"username": username, "password": password}
    )


async def _answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleAnswer)
    return exc.response


def _pages_for_errors(app: FastAPI) -> None:
    """A person who mistypes an address under ``/console`` gets a page, not the API's
    problem JSON; every other path keeps the app's handler."""
    previous = app.exception_handlers.get(StarletteHTTPException)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if (
            request.url.path.startswith("/console")
            and not request.url.path.startswith("/console/static")
            and exc.status_code in (404, 405)
        ):
            page = render(
                request,
                None,
                "error.html",
                {
                    "heading": _("Page not found"),
                    "message": _("There is no page at this address."),
                },
                status=exc.status_code,
            )
            if exc.status_code == 405:  # RFC 9110 §15.5.6: the methods the page takes
                page.headers["Allow"] = allowed_methods(request)
            return page
        if previous is None:
            raise exc
        answer = previous(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(StarletteHTTPException, on_http)


def install(app: FastAPI) -> None:
    """Add the console's pages, static files (``/console/static``), the handler of its
    dependencies' early answers and its not-found page to ``app`` (after the app's own
    error handlers). Areas include their own routers."""
    app.add_exception_handler(ConsoleAnswer, _answer)
    _pages_for_errors(app)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
