"""Each process caches clients and signing keys; a change made anywhere (another process,
a command run against the database: a client disabled, a grant withdrawn, a signing key
rotated or withdrawn) applies in every process within
``registry_refresh_ms``. Two application instances on one database stand for two
gateway processes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from gateway.app import create_app
from gateway.core.db import sync_url
from gateway.settings import Settings
from gateway.state import AppState
from tests.fixtures.cli import env_for
from tests.fixtures.gateway import MakeClient, bearer
from tests.fixtures.serving import run_cli

REFRESH_MS = 200


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"registry_refresh_ms": REFRESH_MS})


@pytest.fixture
async def other(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second gateway process on the same database."""
    application: FastAPI = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://two.test") as client:
            yield client


async def after_the_bound() -> None:
    await asyncio.sleep(REFRESH_MS / 1000 * 1.5)


def update(app: FastAPI, sql: str, **params: object) -> None:
    """A write by another process: a plain connection, no ORM session of this one."""
    state: AppState = app.state.gateway
    engine = create_engine(sync_url(state.settings.database_url))
    with engine.begin() as conn:
        conn.execute(text(sql), params)
    engine.dispose()


async def token_for(http: httpx.AsyncClient, client_id: str, secret: str) -> str:
    response = await http.post(
        "/v1/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def test_a_disabled_client_is_refused_by_every_process_within_the_bound(
    app: FastAPI,
    http: httpx.AsyncClient,
    other: httpx.AsyncClient,
    make_client: MakeClient,
) -> None:
    creds = await make_client(["consumer"], ["contact"])
    token = await token_for(http, creds.client_id, creds.client_secret)
    for process in (http, other):  # both processes now hold the client as active
        assert (await process.get("/v1/services", headers=bearer(token))).status_code == 200

    # Disabled by a third process: neither instance takes part in the change.
    update(app, "UPDATE clients SET active = :no WHERE id = :id", no=False, id=creds.client_id)

    await after_the_bound()
    for process in (http, other):
        response = await process.get("/v1/services", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["type"] == "/problems/invalid-token"


async def test_a_grant_withdrawn_outside_any_process_applies_within_the_bound(
    app: FastAPI,
    http: httpx.AsyncClient,
    other: httpx.AsyncClient,
    make_client: MakeClient,
) -> None:
    creds = await make_client(["admin"])
    token = await token_for(http, creds.client_id, creds.client_secret)
    for process in (http, other):
        assert (await process.get("/v1/clients", headers=bearer(token))).status_code == 200

    # As an operator's SQL would: straight to the database, no gateway involved.
    update(
        app,
        "UPDATE clients SET roles = :roles WHERE id = :id",
        roles=json.dumps(["auditor"]),
        id=creds.client_id,
    )

    await after_the_bound()
    for process in (http, other):
        response = await process.get("/v1/clients", headers=bearer(token))
        assert response.status_code == 403
        assert response.json()["type"] == "/problems/role-not-granted"


def kid_of(token: str) -> str:
    """The ``kid`` of a compact JWS's protected header (RFC 7515 §4.1.4)."""
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


async def test_a_key_rotated_by_another_process_signs_and_verifies_everywhere_within_the_bound(
    settings: Settings,
    http: httpx.AsyncClient,
    other: httpx.AsyncClient,
    make_client: MakeClient,
) -> None:
    creds = await make_client(["consumer"], ["contact"])
    old = await token_for(http, creds.client_id, creds.client_secret)
    for process in (http, other):  # both processes now hold the first key's public half
        assert (await process.get("/v1/services", headers=bearer(old))).status_code == 200

    # `juntos-gateway keys rotate`, run as its own process, as an operator would.
    rotated = await asyncio.to_thread(
        run_cli, ["keys", "rotate"], {**env_for(settings), "LANG": "en_US.UTF-8"}, Path.cwd()
    )
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr

    await after_the_bound()
    fresh = {
        process: await token_for(process, creds.client_id, creds.client_secret)
        for process in (http, other)
    }
    new_kids = {kid_of(token) for token in fresh.values()}
    assert len(new_kids) == 1  # both processes sign with the same, new key
    assert kid_of(old) not in new_kids
    for process in (http, other):
        for token in (*fresh.values(), old):  # the retired key verifies until its tokens expire
            assert (await process.get("/v1/services", headers=bearer(token))).status_code == 200


async def test_a_key_withdrawn_outside_any_process_stops_verifying_within_the_bound(
    app: FastAPI,
    http: httpx.AsyncClient,
    other: httpx.AsyncClient,
    make_client: MakeClient,
) -> None:
    creds = await make_client(["consumer"], ["contact"])
    token = await token_for(http, creds.client_id, creds.client_secret)
    for process in (http, other):
        assert (await process.get("/v1/services", headers=bearer(token))).status_code == 200

    # A compromised key removed by an operator's SQL: every token it signed dies with it.
    update(app, "DELETE FROM signing_keys WHERE kid = :kid", kid=kid_of(token))

    await after_the_bound()
    for process in (http, other):
        response = await process.get("/v1/services", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["type"] == "/problems/invalid-token"
    jwks = (await other.get("/.well-known/jwks.json")).json()["keys"]
    assert kid_of(token) not in {key["kid"] for key in jwks}
