"""Each process caches clients and signing keys; a change made anywhere (another process,
a command run against the database) applies in every process within
``registry_refresh_ms``. Two application instances on one database stand for two
gateway processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from gateway.app import create_app
from gateway.core.db import sync_url
from gateway.settings import Settings
from gateway.state import AppState
from tests.fixtures.gateway import MakeClient, bearer

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
