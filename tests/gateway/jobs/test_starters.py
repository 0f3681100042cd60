"""Every job names who started it, in its row and in every audit event it leaves: the
client (and the official of its ``X-User-Id``), the schedule, the operator at the
command line (by login name) or a person in the console."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.sandbox.settings import SandboxSettings
from gateway.core.db import transaction
from gateway.exchanges.models import ExchangeRun
from gateway.retention import purge_logged
from gateway.settings import Settings
from tests.fixtures.cli import env_for, invoke_async
from tests.fixtures.gateway import MakeClient, audit_log, bearer
from tests.fixtures.partners import CONSUMER_PURPOSES, Mocks, purpose
from tests.fixtures.payments import payees, roll, transfer
from tests.fixtures.support import serve_on_loopback

DAY = {"born_from": "2020-05-01", "born_to": "2020-05-20"}


async def signed_in_client(
    http: httpx.AsyncClient, make_client: MakeClient, roles: list[str], purposes: list[str]
) -> tuple[str, dict[str, str]]:
    """A new client's id and its bearer header."""
    creds = await make_client(roles, purposes)
    token = await http.post(
        "/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    )
    return creds.client_id, bearer(token.json()["access_token"])


@pytest.fixture
async def programme(http: httpx.AsyncClient, make_client: MakeClient) -> tuple[str, dict[str, str]]:
    return await signed_in_client(http, make_client, ["consumer"], CONSUMER_PURPOSES)


@pytest.fixture
def consumer(programme: tuple[str, dict[str, str]]) -> dict[str, str]:
    """The programme system of these tests (the ``consented`` fixture's caller too)."""
    return programme[1]


def events_of(log: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [e for e in log if e["request_id"].startswith(prefix)]


def who(events: list[dict[str, Any]]) -> set[tuple[str | None, str | None]]:
    return {(e["client_id"], e["user_id"]) for e in events}


# -- exchange runs ---------------------------------------------------------------------


@pytest.mark.partner_mocks
async def test_an_exchange_run_names_the_client_and_its_official(
    app: FastAPI, http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    admin_id, admin = await signed_in_client(http, make_client, ["admin"], [])
    created = await http.post(
        "/v1/exchanges/reniec-newborns/runs",
        json=DAY,
        headers=admin | {"X-User-Id": "ana.quispe"},
    )
    assert created.status_code == 202, created.text
    run = created.json()
    assert (run["triggered_by"], run["triggered_by_user"]) == (admin_id, "ana.quispe")
    await app.state.gateway.jobs.work_available()
    shown = await http.get(f"/v1/exchanges/reniec-newborns/runs/{run['id']}", headers=admin)
    assert (shown.json()["triggered_by"], shown.json()["triggered_by_user"]) == (
        admin_id,
        "ana.quispe",
    )
    events = events_of(await audit_log(app), f"exchange:{run['id']}:")
    assert events
    assert all(e["subjects"] for e in events)
    assert who(events) == {(admin_id, "ana.quispe")}


@pytest.mark.partner_mocks
async def test_an_exchange_run_from_the_command_line_names_the_operator(
    app: FastAPI, settings: Settings
) -> None:
    env = env_for(settings) | {"LOGNAME": "rosa", "USER": "rosa"}
    args = ["--born-from", DAY["born_from"], "--born-to", DAY["born_to"]]
    queued = await invoke_async(["exchanges", "run", "reniec-newborns", *args], env)
    assert queued.exit_code == 0, queued.output
    assert '"triggered_by": "cli"' in queued.output
    assert '"triggered_by_user": "rosa"' in queued.output
    await app.state.gateway.jobs.work_available()
    events = events_of(await audit_log(app), "exchange:")
    assert events
    assert who(events) == {("cli", "rosa")}


@pytest.mark.partner_mocks
async def test_a_scheduled_exchange_run_names_the_schedule(app: FastAPI) -> None:
    state = app.state.gateway
    async with transaction(state.sessions) as session:
        assert "reniec-newborns" in await state.exchanges.schedule_due(session)
    await state.jobs.work_available()
    events = events_of(await audit_log(app), "exchange:")
    assert events
    assert who(events) == {("schedule", None)}


# -- payment runs ----------------------------------------------------------------------


@pytest.mark.partner_mocks
async def test_a_payment_run_and_its_bank_calls_name_the_client_and_its_official(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    programme: tuple[str, dict[str, str]],
    consented: Any,
) -> None:
    client_id, headers = programme
    people = await payees(http, mocks, headers, consented, 2)
    transfers = [transfer(n, h, a) for n, (h, a) in enumerate(people)]
    pay = headers | purpose("payment", **{"X-User-Id": "pagos.lucia"})
    created = await http.post("/v1/payment-runs", json=roll("2021-03-W1", transfers), headers=pay)
    assert created.status_code == 201, created.text
    run = created.json()["data"]
    assert (run["triggered_by"], run["triggered_by_user"]) == (client_id, "pagos.lucia")
    assert await app.state.gateway.jobs.work_available() == 1

    log = await audit_log(app)
    sent = [e for e in events_of(log, f"payment:{run['id']}:") if e["service"] == "bn.payments"]
    reconciled = events_of(log, f"payment:{run['id']}:reconcile")
    assert len(sent) == 1
    assert len(reconciled) == 1
    assert who(sent + reconciled) == {(client_id, "pagos.lucia")}
    # the holders paid are the subjects of the pain.001's event, by pseudonym only
    assert len(sent[0]["subjects"]) == 2
    for household, _ in people:
        assert household.mother.dni not in str(sent[0])
    assert (sent[0]["partner"], sent[0]["purpose"]) == ("bn", "payment")
    assert reconciled[0]["service"] == "bn.reconciliation"


# -- push deliveries -------------------------------------------------------------------


async def test_a_push_delivery_names_the_subscriber(
    app: FastAPI, http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    async def hook(request: Request) -> Response:
        await request.body()
        return Response(status_code=204)

    subscriber, program = await signed_in_client(http, make_client, ["consumer"], ["affiliation"])
    _, reniec = await signed_in_client(http, make_client, ["partner"], ["affiliation"])
    household = SandboxSettings().population.household(7)
    birth = json.dumps(
        {
            "cui": household.child.cui,
            "cnv": household.child.cnv,
            "birth_date": "2020-06-01",
            "sex": "F",
            "ubigeo_reniec": household.district.reniec,
            "mother_dni": household.mother.dni,
        }
    )
    async with serve_on_loopback(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        created = await http.post(
            "/v1/subscriptions",
            json={"feed": "births", "mode": "push", "webhook_url": f"{url}/hook"},
            headers=program | purpose("affiliation"),
        )
        assert created.status_code == 201, created.text
        pushed = await http.post(
            "/v1/inbound/reniec/births",
            content=birth + "\n",
            headers=reniec
            | purpose("affiliation", **{"X-Message-Id": "B1"})
            | {"Content-Type": "application/x-ndjson"},
        )
        assert pushed.status_code in (200, 201, 202), pushed.text
        assert await app.state.gateway.jobs.dispatch("deliveries") == 1
    events = events_of(await audit_log(app), "delivery:")
    assert len(events) == 1
    assert who(events) == {(subscriber, None)}
    assert (events[0]["service"], events[0]["outcome"]) == ("reniec.birth-notices", "ok")
    assert len(events[0]["subjects"]) >= 1
    assert household.mother.dni not in str(events[0])
    assert household.child.cui not in str(events[0])


# -- retention purges ------------------------------------------------------------------


async def test_a_purge_names_the_operator_at_the_command_line(
    app: FastAPI, settings: Settings
) -> None:
    env = env_for(settings) | {"LOGNAME": "rosa", "USER": "rosa"}
    dry = await invoke_async(["purge", "--dry-run"], env)
    assert dry.exit_code == 0, dry.output
    assert not events_of(await audit_log(app), "purge:")  # a dry run deletes nothing
    done = await invoke_async(["purge"], env)
    assert done.exit_code == 0, done.output
    events = events_of(await audit_log(app), "purge:")
    assert len(events) == 1
    assert who(events) == {("cli", "rosa")}
    assert events[0]["service"] == "gateway.retention-purge"


async def test_the_periodic_purge_names_the_schedule_when_it_deletes(app: FastAPI) -> None:
    state = app.state.gateway
    async with transaction(state.sessions) as session:
        assert await purge_logged(session, state.catalog) == 0
    assert not events_of(await audit_log(app), "purge:")  # nothing deleted, nothing said

    # A newborn extract finished longer ago than the newborn data may be kept.
    finished = datetime.now(UTC) - timedelta(
        days=state.catalog.data_categories["newborn"].retention_days + 1
    )
    async with transaction(state.sessions) as session:
        session.add(
            ExchangeRun(
                run_id="run-old", name="reniec-newborns", state="succeeded", params={},
                chunks_done=1, records=3, attempts=0, not_before=finished,
                triggered_by="schedule", created_at=finished, finished_at=finished,
            )
        )  # fmt: skip
    async with transaction(state.sessions) as session:
        assert await purge_logged(session, state.catalog) == 3
    events = events_of(await audit_log(app), "purge:")
    assert len(events) == 1
    assert who(events) == {("schedule", None)}
    assert json.loads(events[0]["reason"])["newborn"] == 3
