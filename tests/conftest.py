"""Fixtures that build real objects: a migrated database (SQLite file or a fresh
PostgreSQL database per run), a real app with its lifespan, real clients and tokens.

``GATEWAY_TEST_DATABASE=postgres`` with ``GATEWAY_TEST_POSTGRES_URL`` runs the whole suite
on PostgreSQL; the default is SQLite.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gateway import migrate
from gateway.app import create_app
from gateway.clients.service import create_client
from gateway.core.db import sync_url, transaction
from gateway.models import all_tables
from gateway.settings import Settings
from gateway.state import AppState

BACKEND = os.environ.get("GATEWAY_TEST_DATABASE", "sqlite")


class DatabaseFactory:
    """Creates empty databases on the backend under test and drops them afterwards."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []
        self.admin_url = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "")
        if BACKEND == "postgres" and not self.admin_url:
            raise pytest.UsageError(
                "GATEWAY_TEST_DATABASE=postgres needs GATEWAY_TEST_POSTGRES_URL"
            )

    def _admin_conninfo(self) -> str:
        url = make_url(self.admin_url).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def new(self) -> str:
        name = f"juntos_test_{secrets.token_hex(6)}"
        if BACKEND == "sqlite":
            return f"sqlite:///{self.tmp / (name + '.db')}"
        with psycopg.connect(self._admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        with psycopg.connect(self._admin_conninfo(), autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def database_url(databases: DatabaseFactory) -> str:
    url = databases.new()
    migrate.upgrade(url)
    return url


@pytest.fixture
def clean_database(database_url: str) -> Iterator[str]:
    yield database_url
    engine = create_engine(sync_url(database_url))
    # Sequences restart too: the audit chain of each test begins at event 1.
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(table.name for table in all_tables())
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(all_tables()):
                conn.execute(text(f"DELETE FROM {table.name}"))
            conn.execute(text("DELETE FROM sqlite_sequence"))
    engine.dispose()


@pytest.fixture
def settings(clean_database: str, tmp_path: Path) -> Settings:
    return Settings(
        env="sandbox",
        database_url=clean_database,
        var_dir=tmp_path / "var",
        log_json=True,
        # Tests that want the embedded exchange worker turn it on themselves.
        exchanges_worker=False,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str


MakeClient = Callable[..., Awaitable[Credentials]]
GetToken = Callable[..., Awaitable[str]]


@pytest.fixture
def make_client(app: FastAPI) -> MakeClient:
    state: AppState = app.state.gateway

    async def make(roles: list[str], purposes: list[str] | None = None) -> Credentials:
        async with transaction(state.sessions) as session:
            issued = await create_client(
                session,
                state.catalog,
                f"test-{'-'.join(roles)}",
                roles,
                purposes or [],
                actor=None,  # a fixture row, not a change anyone made
            )
        return Credentials(issued.client.id, issued.secret)

    return make


@pytest.fixture
def get_token(http: httpx.AsyncClient, make_client: MakeClient) -> GetToken:
    async def token(roles: list[str], purposes: list[str] | None = None) -> str:
        creds = await make_client(roles, purposes)
        response = await http.post(
            "/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
