"""Signing in to the console at an OpenID Connect identity provider: the code flow with
PKCE against a provider on loopback, roles from the token's claims, the refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from gateway.app import create_app
from gateway.settings import Settings
from tests.fixtures.gateway import audit_log
from tests.fixtures.identity_provider import CLIENT_ID, CLIENT_SECRET, IdentityProvider
from tests.fixtures.support import bound_socket, start_server


@dataclass
class Federated:
    app: FastAPI
    provider: IdentityProvider
    http: httpx.AsyncClient


@pytest.fixture
async def federated(settings: Settings) -> AsyncIterator[Federated]:
    sock = bound_socket()
    provider = IdentityProvider(f"http://127.0.0.1:{sock.getsockname()[1]}")
    server, task, _ = await start_server(provider.app(), sock)
    settings.console.oidc_issuer = provider.issuer
    settings.console.oidc_client_id = CLIENT_ID
    settings.console.oidc_client_secret = SecretStr(CLIENT_SECRET)
    settings.console.oidc_role_map = {"juntos-auditoria": "auditor", "juntos-his": "partner-agent"}
    application = create_app(settings)
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway.test"
            ) as http:
                yield Federated(application, provider, http)
    finally:
        server.should_exit = True
        await task


async def through_provider(federated: Federated) -> httpx.Response:
    """Click the sign-in link, let the provider approve, come back to the gateway."""
    start = await federated.http.get("/console/login/oidc", params={"next": "/console"})
    assert start.status_code == 303
    async with httpx.AsyncClient() as browser_at_provider:
        approved = await browser_at_provider.get(start.headers["location"])
    assert approved.status_code == 302
    back = approved.headers["location"]
    assert back.startswith("http://gateway.test/console/login/oidc/callback?")
    return await federated.http.get(back.removeprefix("http://gateway.test"))


async def test_a_person_signs_in_at_the_identity_provider(federated: Federated) -> None:
    federated.provider.person = {
        "sub": "123",
        "preferred_username": "RRamos",
        "name": "Rosa Ramos",
        "roles": ["juntos-auditoria", "something-else"],
    }
    login = await federated.http.get("/console/login")
    assert 'href="/console/login/oidc?next=/console"' in login.text
    assert "Iniciar sesión con la cuenta institucional" in login.text
    answer = await through_provider(federated)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console"
    home = await federated.http.get("/console")
    assert home.status_code == 200
    assert "Rosa Ramos" in home.text
    assert 'href="/console/auditor"' in home.text
    events = [(e["service"], e["user_id"], e["outcome"]) for e in await audit_log(federated.app)]
    assert ("console.sign-in", "rramos", "ok") in events


async def test_a_token_without_a_console_role_is_refused(federated: Federated) -> None:
    federated.provider.person = {"sub": "9", "preferred_username": "visitor", "roles": []}
    answer = await through_provider(federated)
    assert answer.status_code == 401
    assert "No se pudo iniciar sesión en el proveedor de identidad" in answer.text
    assert (await federated.http.get("/console")).status_code == 303
    outcomes = [e["outcome"] for e in await audit_log(federated.app)]
    assert "oidc-refused" in outcomes


async def test_a_callback_with_another_state_is_refused(federated: Federated) -> None:
    federated.provider.person = {"sub": "1", "preferred_username": "ana", "roles": ["auditor"]}
    start = await federated.http.get("/console/login/oidc")
    async with httpx.AsyncClient() as browser_at_provider:
        approved = await browser_at_provider.get(start.headers["location"])
    forged = approved.headers["location"].split("&state=")[0] + "&state=forged"
    answer = await federated.http.get(forged.removeprefix("http://gateway.test"))
    assert answer.status_code == 401


async def test_without_a_provider_there_is_no_provider_sign_in(http: httpx.AsyncClient) -> None:
    assert (await http.get("/console/login/oidc")).status_code == 404
    assert "/console/login/oidc" not in (await http.get("/console/login")).text
