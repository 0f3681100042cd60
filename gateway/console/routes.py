"""The console's own pages: sign-in, sign-out, the home page and the language switch,
and :func:`install`, which adds the console to the app (its pages, its static files,
the answer of its dependencies).

Sign-in (``POST /console/login``) records one audit event per attempt:
``console.sign-in`` with outcome ``ok``, ``wrong-password``, ``unknown-user`` (no
``user_id``: what was typed may not be a username at all), ``locked``, ``locked-now``
(this failure locked the account; also ``console.lockout``) or ``disabled``. Every
refusal shows the same message (see ``gateway.console.service``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData

from gateway.auth.dependencies import Session
from gateway.console import service
from gateway.console.service import Actor, current_request_id
from gateway.console.web import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    STATIC,
    ConsoleAnswer,
    ConsoleUser,
    checked_form,
    current_user,
    record_action,
    render,
    safe_next,
    set_cookie,
    settings_of,
    signed_in,
)
from gateway.core.i18n import LOCALES

router = APIRouter(prefix="/console", include_in_schema=False)

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


async def _answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleAnswer)
    return exc.response


def install(app: FastAPI) -> None:
    """Add the console's pages, static files (``/console/static``) and the handler of
    its dependencies' early answers to ``app``. Areas include their own routers."""
    app.add_exception_handler(ConsoleAnswer, _answer)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
