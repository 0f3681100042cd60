"""The auditors' API and the audit commands, on a gateway that served real exchanges."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.auditing.service import verify
from gateway.settings import Settings
from tests.fixtures.cli import env_for, invoke_async
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.partners import Mocks, purpose

pytestmark = pytest.mark.partner_mocks

AUDIT = purpose("audit")


async def traffic(http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]) -> list[str]:
    """Some allowed, some denied look-ups; returns the DNIs looked up."""
    dnis = []
    start = 0
    for n in range(6):
        h = mocks.adult(start)
        start = h.index + 1
        dnis.append(h.mother.dni)
        name = "affiliation" if n % 2 else "contact"
        await http.get(f"/v1/persons/{h.mother.dni}", headers=consumer | purpose(name))
    await http.get(f"/v1/persons/{dnis[0]}", headers=consumer | purpose("audit"))  # not granted
    return dnis


async def test_auditors_filter_page_and_never_see_personal_data(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    get_token: GetToken,
) -> None:
    dnis = await traffic(http, mocks, consumer)
    await app.state.gateway.sealer.seal_now()
    auditor = bearer(await get_token(["auditor"], ["audit"])) | AUDIT

    everything = await http.get("/v1/audit/events", headers=auditor, params={"limit": 1000})
    assert everything.status_code == 200, everything.text
    events = everything.json()["data"]
    assert [e["sequence"] for e in events] == sorted(e["sequence"] for e in events)
    persons = [e for e in events if e["service"] == "reniec.person"]
    assert len(persons) == 7
    assert all(e["hash"] and len(e["hash"]) == 64 for e in events)
    for dni in dnis:
        assert dni not in everything.text

    denied = await http.get("/v1/audit/events", headers=auditor, params={"decision": "denied"})
    assert [e["reason"] for e in denied.json()["data"]] == ["purpose-not-granted"]
    by_subject = await http.get("/v1/audit/events", headers=auditor, params={"subject": dnis[1]})
    assert [e["purpose"] for e in by_subject.json()["data"]] == ["affiliation"]
    # A call refused before the operation ran (its purpose not granted) is still found
    # by the person its address names.
    refused_too = await http.get("/v1/audit/events", headers=auditor, params={"subject": dnis[0]})
    assert [(e["purpose"], e["decision"]) for e in refused_too.json()["data"]] == [
        ("contact", "allowed"),
        ("audit", "denied"),
    ]
    by_purpose = await http.get(
        "/v1/audit/events",
        headers=auditor,
        params={"purpose": "contact", "service": "reniec.person", "outcome": "ok"},
    )
    assert len(by_purpose.json()["data"]) == 3

    pages, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": 2, "service": "reniec.person"}
        if cursor:
            params["cursor"] = cursor
        page = (await http.get("/v1/audit/events", headers=auditor, params=params)).json()
        pages += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["sequence"] for e in pages] == [e["sequence"] for e in persons]

    bad = await http.get("/v1/audit/events", headers=auditor, params={"since": "2026-01-01T00:00"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.since"
    refused = await http.get("/v1/audit/events", headers=consumer | purpose("affiliation"))
    assert refused.status_code == 403

    # Every auditor query is itself an audit event.
    audited = await http.get(
        "/v1/audit/events", headers=auditor, params={"service": "gateway.audit-events"}
    )
    assert len(audited.json()["data"]) >= 9


async def test_a_refused_call_is_found_by_the_child_its_address_names(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    partner = bearer(await get_token(["partner"], ["coresponsibility-verification"]))
    headers = partner | purpose("coresponsibility-verification")
    refused = await http.get("/v1/children/39774981/health-services", headers=headers)
    assert refused.status_code == 403, refused.text
    garbled = await http.get("/v1/children/3977/health-services", headers=headers)
    assert garbled.status_code == 403, garbled.text  # no one named: nothing to record
    await app.state.gateway.sealer.seal_now()
    auditor = bearer(await get_token(["auditor"], ["audit"])) | AUDIT
    found = await http.get("/v1/audit/events", headers=auditor, params={"subject": "39774981"})
    assert [(e["service"], e["decision"]) for e in found.json()["data"]] == [
        ("minsa_his.health-services", "denied")
    ]
    denied = await http.get("/v1/audit/events", headers=auditor, params={"decision": "denied"})
    assert len(denied.json()["data"]) == 2
    assert "39774981" not in found.text


async def test_export_streams_every_matching_event(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    get_token: GetToken,
) -> None:
    await traffic(http, mocks, consumer)
    auditor = bearer(await get_token(["auditor"], ["audit"])) | AUDIT
    jsonl = await http.get(
        "/v1/audit/events/export", headers=auditor, params={"service": "reniec.person"}
    )
    assert jsonl.status_code == 200
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    assert len(rows) == 7
    assert {r["service"] for r in rows} == {"reniec.person"}
    as_csv = await http.get(
        "/v1/audit/events/export",
        headers=auditor,
        params={"service": "reniec.person", "format": "csv"},
    )
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [int(r["sequence"]) for r in table] == [r["sequence"] for r in rows]
    assert json.loads(table[0]["fields_disclosed"]) == rows[0]["fields_disclosed"]


async def test_the_running_gateway_seals_on_its_own(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    await traffic(http, mocks, consumer)
    state = app.state.gateway
    for _ in range(100):  # the sealer runs every audit_seal_interval_seconds (0.5 s)
        report = await asyncio.to_thread(verify, state.settings.database_url)
        if report.unsealed == 0 and report.checkpoints_checked:
            break
        await asyncio.sleep(0.1)
    assert report.ok, report
    assert report.unsealed == 0
    assert report.events_checked == 7


async def test_verify_checkpoints_keys_and_cli(
    app: FastAPI,
    settings: Settings,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    get_token: GetToken,
    tmp_path: Path,
) -> None:
    await traffic(http, mocks, consumer)
    sealed = await invoke_async(["audit", "seal"], env_for(settings) | {"LANG": "C"})
    assert sealed.exit_code == 0, sealed.output
    said = r"último evento sellado: \d+; (puntos de control nuevos en los eventos [\d, ]+|ningún"
    assert re.search(said + r" punto de control nuevo)\n", sealed.output), sealed.output
    auditor = bearer(await get_token(["auditor"], ["audit"])) | AUDIT

    report = (await http.get("/v1/audit/verify", headers=auditor)).json()["data"]
    assert report["ok"] is True
    assert report["events_checked"] >= 7
    checkpoints = (await http.get("/v1/audit/checkpoints", headers=auditor)).json()["data"]
    assert checkpoints
    assert checkpoints[-1]["sequence"] <= report["last_seq"]
    keys = (await http.get("/v1/audit/keys")).json()["keys"]  # public: no token
    assert {k["key_id"] for k in keys} == {c["key_id"] for c in checkpoints}

    verified = await invoke_async(["audit", "verify", "--json"], env_for(settings))
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["ok"] is True
    # One event: a count beside its label reads right whatever the number.
    one = await invoke_async(
        ["audit", "verify", "--to-seq", "1"], env_for(settings) | {"LANG": "C"}
    )
    assert one.exit_code == 0, one.output
    assert "cadena de auditoría íntegra. Eventos comprobados: 1 (1..1);" in one.output

    # A range past the chain's end is a mistyped range, not a broken chain (the sealer
    # runs meanwhile: far past it).
    api_past = await http.get("/v1/audit/verify?from_seq=100000", headers=auditor)
    assert api_past.status_code == 422
    (error,) = api_past.json()["errors"]
    assert error["field"] == "query.from_seq"
    assert error["message"].startswith("after the chain's last sealed event, ")

    archived = await invoke_async(
        ["audit", "archive", "--out", str(tmp_path), "--json"], env_for(settings)
    )
    assert archived.exit_code == 0, archived.output
    manifest = json.loads(archived.output)
    assert manifest["first_seq"] == 1
    key_args = [arg for k in keys for arg in ("--public-key", f"{k['key_id']}={k['public_key']}")]
    offline = await invoke_async(
        ["audit", "verify", "--archive", str(tmp_path), *key_args, "--json"], {}
    )
    assert offline.exit_code == 0, offline.output
    assert json.loads(offline.output)["events_checked"] == manifest["count"]

    # Tampering with the database makes verify fail, naming the event.
    from sqlalchemy import create_engine, update

    from audit.store import audit_events
    from gateway.core.db import sync_url

    engine = create_engine(sync_url(settings.database_url))
    with engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.seq == 3).values(outcome="ok!"))
    engine.dispose()
    broken = await invoke_async(["audit", "verify"], env_for(settings))
    assert broken.exit_code == 1
    assert "BROKEN at event 3" in broken.output
    api = (await http.get("/v1/audit/verify", headers=auditor)).json()["data"]
    assert (api["ok"], api["first_broken_seq"]) == (False, 3)


async def test_the_cli_refuses_a_range_past_the_chain_or_inverted(settings: Settings) -> None:
    """An operator's mistyped range is told apart from a broken chain: on a database
    whose chain is empty, a range from event 5 is past its end (exit 1, no "BROKEN"), an
    inverted range is refused, and the range from event 1 holds nothing sealed yet."""
    env = env_for(settings) | {"LANG": "en_US.UTF-8"}
    past = await invoke_async(["audit", "verify", "--from-seq", "5"], env)
    assert past.exit_code == 1
    assert "--from-seq 5: the chain's last sealed event is 0" in past.output
    assert "BROKEN" not in past.output
    inverted = await invoke_async(["audit", "verify", "--from-seq", "5", "--to-seq", "2"], env)
    assert inverted.exit_code == 1
    assert "--to-seq must not be below --from-seq" in inverted.output
    empty = await invoke_async(["audit", "verify", "--from-seq", "1"], env)
    assert empty.exit_code == 0, empty.output
    assert "audit chain intact: no sealed event in this range; not yet sealed: 0" in empty.output
    spanish = await invoke_async(["audit", "verify", "--from-seq", "5"], env | {"LANG": "C"})
    assert "el último evento sellado de la cadena es el 0" in spanish.output
