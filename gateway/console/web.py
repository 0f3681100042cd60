"""What every page of the console builds on: the signed-in person, CSRF-checked forms,
rendering in the person's language, and the audit event naming the person.

An area of the console (``gateway/console/<area>.py``) uses it like this::

    router = APIRouter(
        route_class=JSONBodyRoute, prefix="/console/auditor", include_in_schema=False
    )

    @router.get("")
    async def index(request: Request, user: Annotated[ConsoleUser, Depends(signed_in("auditor"))]):
        return render(request, user, "auditor/index.html", {"events": ...})

    @router.post("/verify")
    async def verify(request: Request, session: Session,
                     user: Annotated[ConsoleUser, Depends(signed_in("auditor"))],
                     form: Annotated[FormData, Depends(checked_form)]):
        await record_action(session, user, "audit-verify", detail={...})
        ...

- ``signed_in(*roles)``: no live session -> 303 to ``/console/login?next=<path>``; a
  session without any of ``roles`` -> a 403 page. ``admin`` implies no other role.
  Without ``roles``, any signed-in person.
- ``checked_form``: the submitted form when its ``csrf_token`` field equals the
  session's (before sign-in: the ``console_csrf`` cookie's); a 403 page otherwise.
- ``render``: a template of ``gateway/console/templates`` (autoescaped) with ``_``,
  ``gettext``, ``ngettext`` (new-style: ``_("%(n)s rows", n=3)``) in the person's
  language, and ``user``, ``csrf_token``, ``locale``, ``request``, ``areas``,
  ``format_number``, ``format_datetime`` (Babel; times shown in Lima's zone).
- ``record_action``: one audit event ``console.<action>`` with ``client_id="console"``
  and ``user_id`` the username, appended in the caller's transaction.

Pages are served with ``Cache-Control: no-store`` and a Content-Security-Policy that
allows scripts, styles, images and fonts from the gateway itself only (inline
``style`` attributes allowed; inline scripts are not: put scripts in
``gateway/console/static``).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from babel.dates import format_datetime as babel_format_datetime
from babel.dates import get_timezone
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from gateway.auth.dependencies import Session
from gateway.console import service
from gateway.console.service import Actor, current_request_id
from gateway.core.db import transaction
from gateway.core.i18n import LOCALES, negotiate, number_locale, translations
from gateway.core.web import components
from gateway.settings import Settings

ROLES = service.ROLES
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "console_session"
CSRF_COOKIE = "console_csrf"
LANG_COOKIE = "lang"
COOKIE_PATH = "/console"
TIMEZONE = "America/Lima"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Area:
    """A part of the console and the role that opens it (for the home page and menu)."""

    role: str
    path: str
    title: str  # English message id
    summary: str  # English message id


def _(message: str) -> str:
    """Marks a message id for extraction; translated when rendered."""
    return message


AREAS = (
    Area(
        "auditor",
        "/console/auditor",
        _("Audit"),
        _("Search the audit log, verify the chain, a person's disclosure report."),
    ),
    Area(
        "operator",
        "/console/operator",
        _("Operations"),
        _("Partners, exchange and payment runs, pushed files, clients and keys."),
    ),
    Area(
        "partner-agent",
        "/console/agent",
        _("Partner files"),
        _("Upload a file to your partner's feed and read its receipt."),
    ),
    Area(
        "admin",
        "/console/users",
        _("Console users"),
        _("Who may sign in and with which roles; disable an account or set a new password."),
    ),
)


ROLE_NAMES = {
    "operator": _("Operator"),
    "auditor": _("Auditor"),
    "partner-agent": _("Partner agent"),
    "admin": _("Administrator"),
}


@dataclass(frozen=True)
class ConsoleUser:
    """The person signed in, as every console page sees them."""

    username: str
    display_name: str
    roles: frozenset[str]
    partner: str | None  # partner agents: the partner whose feeds they push
    locale: str
    csrf_token: str


class ConsoleAnswer(Exception):  # noqa: N818 - carries an answer, not an error
    """Raised by a console dependency to answer at once with ``response`` (a redirect to
    the sign-in page, a 403 page); ``routes.install`` registers the handler."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def settings_of(request: Request) -> Settings:
    return components(request).get(Settings)


def locale_of(request: Request) -> str:
    """The ``lang`` cookie's choice, else ``Accept-Language``, else Spanish."""
    return negotiate(request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))


def safe_next(target: str | None, default: str = "/console") -> str:
    """``target`` when it is a path inside the console (never another site)."""
    if not target or not target.startswith("/console") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


_UNSET = object()


async def current_user(request: Request, session: AsyncSession) -> ConsoleUser | None:
    """The person whose live session the request carries, or None. An expired session
    is ended and recorded (``console.session-expired``) in a transaction of its own,
    since the request's own transaction is rolled back by the redirect that follows."""
    cached = getattr(request.state, "console_user", _UNSET)
    if cached is not _UNSET:
        return cast(ConsoleUser | None, cached)
    user: ConsoleUser | None = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        policy = settings_of(request).console
        resumed = await service.resume_session(session, token, policy)
        if resumed is not None and resumed.expired is not None:
            account = resumed.account
            async with transaction(components(request).sessions) as own:
                await service.close_session(own, token)
                await service.audit(
                    own,
                    Actor(account.username, tuple(account.roles), "console", current_request_id()),
                    "session-expired",
                    outcome="expired",
                    detail={"timeout": resumed.expired},
                )
            request.state.console_expired = True
        elif resumed is not None:
            account = resumed.account
            user = ConsoleUser(
                username=account.username,
                display_name=account.display_name,
                roles=frozenset(account.roles),
                partner=account.partner,
                locale=locale_of(request),
                csrf_token=resumed.row.csrf_token,
            )
    request.state.console_user = user
    return user


def signed_in(*roles: str) -> Callable[[Request, AsyncSession], Awaitable[ConsoleUser]]:
    """A dependency giving the signed-in :class:`ConsoleUser` holding one of ``roles``
    (any person when none are named)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown console roles: {sorted(unknown)}")

    async def dependency(request: Request, session: Session) -> ConsoleUser:
        user = await current_user(request, session)
        if user is None:
            path = request.url.path
            if request.url.query and request.method == "GET":
                path += "?" + request.url.query
            target = "/console/login?next=" + quote(safe_next(path), safe="/")
            if getattr(request.state, "console_expired", False):
                target += "&expired=1"
            answer = RedirectResponse(target, status_code=303)
            answer.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
            raise ConsoleAnswer(answer)
        if roles and not user.roles.intersection(roles):
            raise ConsoleAnswer(
                render(
                    request,
                    user,
                    "error.html",
                    {
                        "heading": _("Not allowed"),
                        "message": _("Your roles do not open this page."),
                    },
                    status=403,
                )
            )
        return user

    return dependency


async def checked_form(request: Request, session: Session) -> FormData:
    """The submitted form (urlencoded or multipart) after its ``csrf_token`` field was
    found equal to the session's token (before sign-in: the ``console_csrf`` cookie's);
    a 403 page otherwise."""
    form = await request.form()
    user = await current_user(request, session)
    expected = user.csrf_token if user is not None else request.cookies.get(CSRF_COOKIE)
    sent = form.get("csrf_token")
    if (
        not expected
        or not isinstance(sent, str)
        or not secrets.compare_digest(sent.encode(), expected.encode())
    ):
        raise ConsoleAnswer(
            render(
                request,
                user,
                "error.html",
                {
                    "heading": _("Form refused"),
                    "message": _(
                        "This form was not sent from a page of this session, or the page "
                        "was too old. Open the page again and repeat."
                    ),
                },
                status=403,
            )
        )
    return form


@functools.cache
def environment(locale: str) -> Environment:
    """The Jinja2 environment of one locale (one per locale, built once, never changed
    afterwards, so concurrent renders in other languages cannot interfere)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["LOCALES"] = LOCALES
    return env


def format_number(value: float | int, locale: str) -> str:
    return format_decimal(value, locale=number_locale(locale))


def format_datetime(value: datetime | None, locale: str, format: str = "medium") -> str:
    if value is None:
        return ""
    return babel_format_datetime(value, format, tzinfo=get_timezone(TIMEZONE), locale=locale)


def cookie_secure(request: Request) -> bool:
    """Cookies are ``Secure`` except in sandbox mode (served over plain http locally)."""
    return not settings_of(request).is_sandbox


def render(
    request: Request,
    user: ConsoleUser | None,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> HTMLResponse:
    """The page ``template`` rendered for ``user`` (or for a visitor not signed in)."""
    locale = user.locale if user is not None else locale_of(request)
    new_csrf = None
    if user is not None:
        csrf = user.csrf_token
    else:
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        if len(csrf) < 32:
            csrf = new_csrf = secrets.token_urlsafe(32)
    areas = [a for a in AREAS if user is not None and a.role in user.roles]
    html = (
        environment(locale)
        .get_template(template)
        .render(
            {
                **context,
                "user": user,
                "csrf_token": csrf,
                "locale": locale,
                "request": request,
                "areas": areas,
                "role_names": ROLE_NAMES,
                "oidc_enabled": settings_of(request).console.oidc_enabled,
                "format_number": lambda value: format_number(value, locale),
                "format_datetime": lambda value, format="medium": format_datetime(
                    value, locale, format
                ),
            }
        )
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Language"] = locale
    if new_csrf is not None:
        set_cookie(request, response, CSRF_COOKIE, new_csrf)
    return response


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    """A console cookie: HttpOnly, SameSite=Strict, path ``/console``, Secure outside
    sandbox mode."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=cookie_secure(request),
        httponly=True,
        samesite="strict",
    )


async def record_action(
    session: AsyncSession,
    user: ConsoleUser,
    action: str,
    *,
    outcome: str = "ok",
    subjects: list[str] | None = None,
    detail: dict[str, Any] | None = None,
    status: int | None = None,
) -> None:
    """Append the audit event of ``user`` doing ``action`` (``service`` is
    ``console.<action>``, ``subjects`` pseudonyms, ``detail`` a small JSON object kept in
    the event's ``reason``; never a DNI, CUI or name in clear; ``status`` the HTTP
    status answered, see ``gateway.console.service.audit``), in the caller's
    transaction."""
    await service.audit(
        session,
        Actor(user.username, tuple(sorted(user.roles)), "console", current_request_id()),
        action,
        outcome=outcome,
        subjects=subjects or [],
        detail=detail,
        status=status,
    )
