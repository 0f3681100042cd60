"""Periodic exchanges: chunked, checkpointed, resumable after SIGKILL, patient with an
unavailable partner."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from audit.store import recent
from gateway.core.db import transaction
from gateway.exchanges.models import ExchangeRun
from gateway.exchanges.service import ExchangeService
from gateway.jobs.starters import Starter
from gateway.settings import Settings
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.partners import Grant, Mocks

pytestmark = pytest.mark.partner_mocks


async def in_transaction(state: Any, method: Any, *args: Any) -> Any:
    """Call a service method in a transaction of its own, as a request would."""
    async with transaction(state.sessions) as session:
        return await method(session, *args)


TESTER = Starter("test")
YEAR = {"born_from": "2020-03-01", "born_to": "2021-02-28", "ubigeo": []}
# How many times a worker is killed midway (`make soak` asks for ten).
KILLS = int(os.environ.get("GATEWAY_SOAK_KILLS", "3"))
CLI = str(Path(sys.executable).with_name("juntos-gateway"))


def expected_cuis(mocks: Mocks, params: dict[str, object]) -> list[str]:
    pop = mocks.population
    start, end = (
        date.fromisoformat(str(params["born_from"])),
        date.fromisoformat(str(params["born_to"])),
    )
    return [pop.household(i).child.cui for i in pop.newborns(start, end)]


async def test_a_triggered_run_stages_every_newborn_once(
    settings: Settings, mocks: Mocks, get_token: GetToken, http: httpx.AsyncClient, app: FastAPI
) -> None:
    admin = bearer(await get_token(["admin"]))
    listed = (await http.get("/v1/exchanges", headers=admin)).json()["exchanges"]
    assert [e["name"] for e in listed] == [
        "reniec-newborns",
        "minsa-his-extract",
        "osiptel-refresh",
        "bn-reconciliation",
        "bn-card-deliveries",
    ]
    assert listed[3]["description"] == (
        "Daily copy of the debits booked on the programme's account (camt.054)."
    )
    spanish = await http.get("/v1/exchanges", headers={**admin, "Accept-Language": "es-PE"})
    assert spanish.headers["content-language"] == "es"
    assert spanish.json()["exchanges"][3]["description"] == (
        "Copia diaria de los cargos registrados en la cuenta del programa (camt.054)."
    )
    params = {"born_from": "2020-05-01", "born_to": "2020-06-30"}
    created = await http.post("/v1/exchanges/reniec-newborns/runs", json=params, headers=admin)
    assert created.status_code == 202, created.text
    run = created.json()
    state = app.state.gateway
    await state.jobs.work_available()
    done = await http.get(f"/v1/exchanges/reniec-newborns/runs/{run['id']}", headers=admin)
    progress = done.json()
    assert progress["state"] == "succeeded"
    records = await in_transaction(state, state.exchanges.records, run["id"])
    assert sorted(r["cui"] for r in records) == sorted(
        expected_cuis(mocks, params | {"ubigeo": []})
    )
    assert progress["records"] == len(records) > 0
    assert progress["chunks_done"] == -(-len(records) // 200)
    assert set(records[0]) == {
        "cui",
        "cnv",
        "birth_date",
        "sex",
        "ubigeo",
        "mother_dni",
        "mother_names",
        "child_names",
        "social_programs",
        "alive",
    }  # the purpose's fields only
    bad = await http.post(
        "/v1/exchanges/reniec-newborns/runs",
        json={"born_from": "2020-05-01", "born_to": "2019-01-01"},
        headers=admin,
    )
    assert bad.status_code == 422
    consumer = bearer(await get_token(["consumer"], ["affiliation"]))
    assert (await http.get("/v1/exchanges", headers=consumer)).status_code == 403


async def test_partner_outage_delays_but_loses_nothing(
    settings: Settings, mocks: Mocks, app: FastAPI
) -> None:
    state = app.state.gateway
    params = {"born_from": "2020-05-01", "born_to": "2020-05-31", "ubigeo": []}
    run = await in_transaction(state, state.exchanges.trigger, "reniec-newborns", params, TESTER)
    assert run is not None
    await mocks.faults("reniec", error_rate=1.0)
    run_id = await state.jobs.claim("exchange-runs")
    assert await state.jobs.work("exchange-runs", run_id) == "queued"
    postponed = await in_transaction(state, state.exchanges.get, "reniec-newborns", run["id"])
    assert (postponed["state"], postponed["attempts"]) == ("queued", 1)
    assert postponed["last_error"]
    assert await state.jobs.claim("exchange-runs") is None  # backing off
    await mocks.faults("reniec", error_rate=0.0)
    async with transaction(state.sessions) as session:  # the back-off has passed
        row = await session.get(ExchangeRun, run["id"])
        row.not_before = row.created_at
    assert await state.jobs.work_available() == 1
    records = await in_transaction(state, state.exchanges.records, run["id"])
    assert sorted(r["cui"] for r in records) == sorted(expected_cuis(mocks, params))


async def test_sigkill_midway_then_resume_gives_exactly_the_records(
    settings: Settings, mocks: Mocks, app: FastAPI
) -> None:
    state = app.state.gateway
    env = {
        **os.environ,
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_VAR_DIR": str(settings.var_dir),
        "GATEWAY_EXCHANGES_LEASE_SECONDS": "1",
        "GATEWAY_LOG_LEVEL": "WARNING",
        **{f"GATEWAY_PARTNERS__{name.upper()}__BASE_URL": url for name, url in mocks.urls.items()},
    }
    await mocks.faults("reniec", latency_ms=60)
    killed = 0
    run = await in_transaction(state, state.exchanges.trigger, "reniec-newborns", YEAR, TESTER)
    assert run is not None
    rng = random.Random(KILLS)
    for _ in range(KILLS):  # kill the worker several times at different points
        worker = await asyncio.create_subprocess_exec(
            CLI,
            "exchanges",
            "work",
            "--until-idle",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        step = 2 if KILLS <= 3 else 1  # enough chunks left for every kill
        target = (await in_transaction(state, state.exchanges.get, "reniec-newborns", run["id"]))[
            "chunks_done"
        ] + step
        for _ in range(400):
            progress = await in_transaction(
                state, state.exchanges.get, "reniec-newborns", run["id"]
            )
            if progress["chunks_done"] >= target or worker.returncode is not None:
                break
            await asyncio.sleep(0.025)
        await asyncio.sleep(rng.uniform(0, 0.04))  # anywhere in the next chunk's work
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        killed += 1
        await asyncio.sleep(1.1)  # the dead worker's lease expires
    interrupted = await in_transaction(state, state.exchanges.get, "reniec-newborns", run["id"])
    assert interrupted["state"] in ("running", "queued"), "the run ended before it was killed"
    await mocks.faults("reniec", latency_ms=0)
    resumed = await asyncio.create_subprocess_exec(
        CLI,
        "exchanges",
        "work",
        "--until-idle",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await resumed.wait() == 0
    final = await in_transaction(state, state.exchanges.get, "reniec-newborns", run["id"])
    assert final["state"] == "succeeded"

    clean = await in_transaction(state, state.exchanges.trigger, "reniec-newborns", YEAR, TESTER)
    assert clean is not None
    await state.jobs.work_available()
    interrupted_records = await in_transaction(state, state.exchanges.records, run["id"])
    clean_records = await in_transaction(state, state.exchanges.records, clean["id"])
    assert interrupted_records == clean_records  # same records, same order
    assert sorted(r["cui"] for r in clean_records) == sorted(expected_cuis(mocks, YEAR))
    assert max(Counter(r["cui"] for r in interrupted_records).values()) == 1
    assert killed == KILLS
    async with transaction(state.sessions) as session:
        states = (await session.execute(select(ExchangeRun.state))).scalars().all()
        events = await recent(session, limit=100_000)
    assert set(states) == {"succeeded"}
    # One audit event per stored chunk, none for work a kill threw away.
    chunk_events = [
        e["request_id"] for e in events if e["request_id"].startswith(f"exchange:{run['id']}:")
    ]
    assert sorted(chunk_events) == sorted(
        f"exchange:{run['id']}:{n}" for n in range(final["chunks_done"])
    )


async def test_his_extract_stages_only_children_with_consent(
    mocks: Mocks,
    app: FastAPI,
    consented: Grant,
    http: httpx.AsyncClient,
    consumer: dict[str, str],
) -> None:
    pop = mocks.population
    start, end = date(2021, 1, 1), date(2021, 1, 31)
    served = [
        pop.household(i)
        for i in range(300)
        if any(start <= r.service_date <= end for r in pop.health_records(pop.household(i)))
    ]
    chosen = served[:2]
    consent_ids = [await consented(h) for h in chosen]
    state = app.state.gateway
    params = {"born_from": start.isoformat(), "born_to": end.isoformat(), "ubigeo": []}
    run = await in_transaction(state, state.exchanges.trigger, "minsa-his-extract", params, TESTER)
    assert run is not None
    await state.jobs.work_available()
    done = await in_transaction(state, state.exchanges.get, "minsa-his-extract", run["id"])
    assert done["state"] == "succeeded"
    records = await in_transaction(state, state.exchanges.records, run["id"])
    expected = sorted(
        (h.child.cui, r.appointment_id)
        for h in chosen
        for r in pop.health_records(h)
        if start <= r.service_date <= end
    )
    assert sorted((r["cui"], r["appointment_id"]) for r in records) == expected
    assert set(records[0]) == {"cui", "appointment_id", "service_date", "item_code", "lab_value"}

    # The programme reads the staged records through the API, for the exchange's purpose;
    # a consent revoked after staging withholds that child's records from then on.
    url = f"/v1/exchanges/minsa-his-extract/runs/{run['id']}/records"
    his = consumer | {"X-Purpose": "coresponsibility-verification"}
    rows, pages = await read_staged(http, url, his)
    assert sorted((r["cui"], r["appointment_id"]) for r in rows) == expected
    assert pages == -(-done["chunks_done"] // 10)
    wrong = await http.get(url, headers=consumer | {"X-Purpose": "contact"})
    assert wrong.status_code == 403
    revoked_id = consent_ids[0]
    revoked = await http.post(
        f"/v1/consents/{revoked_id}/revocation",
        headers=consumer | {"X-Purpose": "affiliation"},
        json={"reason": "the caregiver withdrew"},
    )
    assert revoked.status_code == 200, revoked.text
    after, _ = await read_staged(http, url, his)
    assert {r["cui"] for r in after} == {chosen[1].child.cui}
    async with transaction(state.sessions) as session:
        events = list(reversed(await recent(session, 200)))
    extract = [e for e in events if e["service"] == "minsa_his.health-extract"]
    # The run's own partner calls name who triggered the run ("test" here); the reads
    # of what it staged name the consumer that read.
    assert {e["client_id"] for e in extract if e["request_id"].startswith("exchange:")} == {"test"}
    reads = [e for e in extract if not e["request_id"].startswith("exchange:")]
    assert [(e["decision"], e["status"]) for e in reads] == [
        *[("allowed", 200)] * pages,
        ("denied", 403),
        *[("allowed", 200)] * pages,
    ]


async def read_staged(
    http: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> tuple[list[dict[str, object]], int]:
    """Every record of a finished run, page by page; and how many pages it took."""
    rows: list[dict[str, object]] = []
    chunk: int | None = 0
    pages = 0
    while chunk is not None:
        page = await http.get(url, params={"chunk": chunk}, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert (body["run"]["state"], body["chunk"]) == ("succeeded", chunk)
        rows += body["data"]
        chunk = body["next_chunk"]
        pages += 1
    return rows, pages


async def test_bank_reconciliation_stages_the_days_debits(
    mocks: Mocks, app: FastAPI, http: httpx.AsyncClient, consumer: dict[str, str], consented: Grant
) -> None:
    from tests.fixtures.payments import payees, roll, transfer

    people = await payees(http, mocks, consumer, consented, 3)
    transfers = [transfer(n, h, a) for n, (h, a) in enumerate(people)]
    await http.post(
        "/v1/payment-runs",
        json=roll("2021-09-T1", transfers),
        headers=consumer | {"X-Purpose": "payment"},
    )
    state = app.state.gateway
    await state.jobs.work_available()
    today = date.today().isoformat()
    run = await in_transaction(
        state,
        state.exchanges.trigger,
        "bn-reconciliation",
        {"born_from": today, "born_to": today, "ubigeo": []},
        TESTER,
    )
    assert run is not None
    await state.jobs.work_available()
    records = await in_transaction(state, state.exchanges.records, run["id"])
    assert sorted(r["end_to_end_id"] for r in records) == sorted(
        t["end_to_end_id"] for t in transfers
    )
    assert {r["amount"] for r in records} == {"200.00"}


async def test_osiptel_refresh_reads_the_lines_of_consenting_caregivers(
    mocks: Mocks, app: FastAPI, consented: Grant
) -> None:
    chosen = []
    start = 0
    while len(chosen) < 3:
        h = mocks.adult(start)
        start = h.index + 1
        chosen.append(h)
        await consented(h)
    state = app.state.gateway
    today = date.today().isoformat()
    run = await in_transaction(
        state,
        state.exchanges.trigger,
        "osiptel-refresh",
        {"born_from": today, "born_to": today, "ubigeo": []},
        TESTER,
    )
    assert run is not None
    await state.jobs.work_available()
    records = await in_transaction(state, state.exchanges.records, run["id"])
    assert sorted((r["dni"], r["number"]) for r in records) == sorted(
        (h.mother.dni, line.number) for h in chosen for line in h.phone_lines
    )


async def test_each_scheduled_slot_is_queued_once(app: FastAPI) -> None:
    state = app.state.gateway
    first = await in_transaction(state, state.exchanges.schedule_due)
    assert sorted(first) == sorted(state.catalog.exchanges)
    assert (
        await in_transaction(state, state.exchanges.schedule_due) == []
    )  # this process: already queued
    other = ExchangeService(
        state.catalog,
        state.keyring,
        state.partners,
        state.pseudonyms,
        state.consents,
    )
    assert (
        await in_transaction(state, other.schedule_due) == []
    )  # another process: the database refuses it
    async with transaction(state.sessions) as session:
        slots = (await session.execute(select(ExchangeRun.slot))).scalars().all()
    assert len(slots) == len(set(slots)) == len(state.catalog.exchanges)
