"""Signing in to the console over HTTP: the cookies' attributes, the CSRF check on every
form, the lockout, the timeouts and the audit events naming the person."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.console.service import Actor, create_account
from gateway.core.db import transaction
from gateway.settings import Settings
from tests.fixtures.gateway import audit_log
from tests.fixtures.serving import PRODUCTION_PARTNER_SECRETS

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def add_user(
    app: FastAPI,
    username: str = "ana",
    roles: tuple[str, ...] = ("auditor",),
    partner: str | None = None,
) -> None:
    async with transaction(app.state.gateway.sessions) as session:
        await create_account(
            session,
            username,
            list(roles),
            actor=Actor("test"),
            partners={"minsa_his"},
            display_name="Ana Quispe",
            partner=partner,
            password=PASSWORD,
        )


async def csrf_of(http: httpx.AsyncClient, path: str = "/console/login") -> str:
    page = await http.get(path)
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(
    http: httpx.AsyncClient, username: str = "ana", password: str = PASSWORD
) -> httpx.Response:
    token = await csrf_of(http)
    return await http.post(
        "/console/login",
        data={"csrf_token": token, "username": username, "password": password, "next": "/console"},
    )


async def test_a_person_signs_in_and_gets_a_strict_http_only_session_cookie(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    await add_user(app)
    login = await http.get("/console/login")
    assert login.status_code == 200
    assert '<html lang="es">' in login.text
    assert "Iniciar sesión" in login.text
    answer = await sign_in(http)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("console_session=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "path=/console" in cookie.lower()
    assert "secure" not in attributes  # sandbox mode serves plain http
    home = await http.get("/console")
    assert home.status_code == 200
    assert "Ana Quispe" in home.text
    assert 'href="/console/auditor"' in home.text
    assert 'href="/console/operator"' not in home.text
    assert home.headers["cache-control"] == "no-store"
    events = [e for e in await audit_log(app) if e["service"] == "console.sign-in"]
    assert [(e["user_id"], e["client_id"], e["outcome"]) for e in events] == [
        ("ana", "console", "ok")
    ]


async def test_without_a_session_the_console_leads_to_the_sign_in_page(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get("/console")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=/console"
    root = await http.get("/")
    assert root.headers["location"] == "/console"


async def test_a_form_without_or_with_a_wrong_csrf_token_is_refused(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    await add_user(app)
    await csrf_of(http)
    no_token = await http.post("/console/login", data={"username": "ana", "password": PASSWORD})
    assert no_token.status_code == 403
    assert "Formulario rechazado" in no_token.text
    wrong = await http.post(
        "/console/login", data={"username": "ana", "password": PASSWORD, "csrf_token": "x" * 43}
    )
    assert wrong.status_code == 403
    assert (await sign_in(http)).status_code == 303
    # Signed in: the session's token, not the sign-in page's, is the one accepted.
    refused = await http.post("/console/logout", data={"csrf_token": "y" * 43})
    assert refused.status_code == 403
    assert (await http.get("/console")).status_code == 200
    token = await csrf_of(http, "/console")
    out = await http.post("/console/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert (await http.get("/console")).status_code == 303
    events = [(e["service"], e["user_id"]) for e in await audit_log(app)]
    assert ("console.sign-out", "ana") in events


async def test_every_refusal_reads_the_same_and_the_account_locks_after_five_failures(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    await add_user(app)
    unknown = await sign_in(http, "nobody", PASSWORD)
    assert unknown.status_code == 401
    message = "Usuario o contraseña incorrectos"
    assert message in unknown.text
    for _ in range(5):
        wrong = await sign_in(http, "ana", "not the password")
        assert wrong.status_code == 401
        assert message in wrong.text
    locked = await sign_in(http, "ana", PASSWORD)
    assert locked.status_code == 401
    assert message in locked.text
    assert "console_session" not in http.cookies
    outcomes = [
        (e["service"], e["user_id"], e["outcome"])
        for e in await audit_log(app)
        if e["service"].startswith("console.") and e["service"] != "console.user-create"
    ]
    assert outcomes == [
        ("console.sign-in", None, "unknown-user"),
        *[("console.sign-in", "ana", "wrong-password")] * 4,
        ("console.sign-in", "ana", "locked-now"),
        ("console.lockout", "ana", "ok"),
        ("console.sign-in", "ana", "locked"),
    ]


async def test_roles_open_only_their_areas(app: FastAPI, http: httpx.AsyncClient) -> None:
    await add_user(app, "hugo", ("partner-agent",), partner="minsa_his")
    assert (await sign_in(http, "hugo")).status_code == 303
    home = await http.get("/console")
    assert 'href="/console/agent"' in home.text
    assert "minsa_his" in home.text


async def test_the_language_switch_keeps_english(app: FastAPI, http: httpx.AsyncClient) -> None:
    token = await csrf_of(http)
    switched = await http.post(
        "/console/language", data={"csrf_token": token, "lang": "en", "next": "/console/login"}
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/console/login"
    page = await http.get("/console/login")
    assert '<html lang="en">' in page.text
    assert "Sign in" in page.text
    # The choice wins over what the browser asks for.
    browser_spanish = await http.get("/console/login", headers={"Accept-Language": "es-PE"})
    assert '<html lang="en">' in browser_spanish.text


async def test_the_language_switch_keeps_the_pages_query_string(http: httpx.AsyncClient) -> None:
    page = await http.get("/console/login", params={"next": "/console/auditor?outcome=denied"})
    here = "/console/login?next=%2Fconsole%2Fauditor%3Foutcome%3Ddenied"
    assert f'name="next" value="{here}"' in page.text
    token = await csrf_of(http)
    switched = await http.post(
        "/console/language", data={"csrf_token": token, "lang": "en", "next": here}
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == here


async def test_accept_language_chooses_english_without_a_choice(http: httpx.AsyncClient) -> None:
    page = await http.get("/console/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.text


async def test_open_redirects_are_refused(app: FastAPI, http: httpx.AsyncClient) -> None:
    await add_user(app)
    token = await csrf_of(http)
    answer = await http.post(
        "/console/login",
        data={
            "csrf_token": token,
            "username": "ana",
            "password": PASSWORD,
            "next": "//evil.example/console",
        },
    )
    assert answer.headers["location"] == "/console"


@pytest.fixture
async def short_lived(settings: Settings) -> AsyncIterator[FastAPI]:
    settings.console.idle_timeout_seconds = 1
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_an_idle_session_ends(short_lived: FastAPI) -> None:
    import asyncio

    transport = httpx.ASGITransport(app=short_lived)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        await add_user(short_lived)
        assert (await sign_in(http)).status_code == 303
        assert (await http.get("/console")).status_code == 200
        await asyncio.sleep(1.2)
        expired = await http.get("/console")
        assert expired.status_code == 303
        assert expired.headers["location"] == "/console/login?next=/console&expired=1"
        page = await http.get(expired.headers["location"])
        assert "Su sesión terminó" in page.text
    events = [(e["service"], e["user_id"], e["outcome"]) for e in await audit_log(short_lived)]
    assert ("console.session-expired", "ana", "expired") in events


async def test_outside_sandbox_the_cookies_are_secure(
    clean_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PRODUCTION_PARTNER_SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = Settings(
        env="production",
        database_url=clean_database,
        var_dir=tmp_path,
        master_key="q" * 43,
        exchanges_worker=False,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await add_user(application)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://gateway.test") as http:
            login = await http.get("/console/login")
            assert "secure" in login.headers["set-cookie"].lower()
            answer = await sign_in(http)
            cookie = next(
                c for c in answer.headers.get_list("set-cookie") if c.startswith("console_session=")
            )
            assert "; secure" in cookie.lower()


async def test_only_administrators_open_the_users_page(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    await add_user(app)
    assert (await sign_in(http)).status_code == 303
    refused = await http.get("/console/users")
    assert refused.status_code == 403
    assert "Sus roles no dan acceso a esta página." in refused.text


async def test_an_administrator_disables_an_account_and_sets_a_new_password(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    await add_user(app)
    await add_user(app, "root", ("admin",))
    assert (await sign_in(http, "root")).status_code == 303
    page = await http.get("/console/users")
    assert page.status_code == 200
    assert "ana" in page.text
    token = CSRF.search(page.text)
    assert token
    reset = await http.post("/console/users/ana/reset-password", data={"csrf_token": token[1]})
    assert reset.status_code == 200
    shown = re.search(r'<code class="secret">([^<]+)</code>', reset.text)
    assert shown
    own = await http.post("/console/users/root/disable", data={"csrf_token": token[1]})
    assert own.status_code == 409
    disabled = await http.post("/console/users/ana/disable", data={"csrf_token": token[1]})
    assert disabled.status_code == 200
    assert "Desactivado" in disabled.text
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as other:
        assert (await sign_in(other, "ana", shown[1])).status_code == 401
    events = [(e["service"], e["user_id"], e["client_id"]) for e in await audit_log(app)]
    assert ("console.user-reset-password", "root", "console") in events
    assert ("console.user-disable", "root", "console") in events


async def test_a_mistyped_console_address_is_a_page_and_the_api_keeps_problems(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/console/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Página no encontrada" in page.text
    api = await http.get("/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    # A page asked with a method it does not take says which it takes (RFC 9110 §15.5.6).
    wrong = await http.put("/console/login")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"].startswith("text/html")
    assert wrong.headers["allow"] == "GET, POST"
