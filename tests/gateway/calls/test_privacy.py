"""Personal data at rest: nothing in clear, keys rotate, retention purges, disclosures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from adapters.sandbox.population import Household
from gateway.consent.models import Consent, ConsentRevision
from gateway.core.data_keys import DataKeyring
from gateway.core.db import transaction
from gateway.exchanges.models import ExchangeChunk, ExchangeRun
from gateway.idempotency.models import IdempotencyRecord
from gateway.settings import Settings
from tests.fixtures.cli import env_for, invoke_async
from tests.fixtures.database import found_in_clear, stored_text
from tests.fixtures.partners import Grant, Mocks, purpose

pytestmark = pytest.mark.partner_mocks

HIS = purpose("coresponsibility-verification")


async def touch(http: httpx.AsyncClient, consumer: dict[str, str], h: Household, n: int) -> None:
    """One household through every kind of exchange that stores something."""
    for name in ("affiliation", "payment", "contact"):
        assert (
            await http.get(f"/v1/persons/{h.mother.dni}", headers=consumer | purpose(name))
        ).status_code == 200
    lines = await http.get(
        f"/v1/persons/{h.mother.dni}/phone-lines", headers=consumer | purpose("contact")
    )
    assert lines.status_code in (200, 404)
    opened = await http.post(
        "/v1/accounts",
        headers=consumer | purpose("payment", **{"Idempotency-Key": f"open-{n:08d}"}),
        json={"dni": h.mother.dni},
    )
    assert opened.status_code in (200, 201), opened.text
    assert (
        await http.get(f"/v1/children/{h.child.cui}/health-services", headers=consumer | HIS)
    ).status_code == 200
    assert (
        await http.get(
            f"/v1/children/{h.child.cui}/coresponsibility",
            params={"period": "2021-02"},
            headers=consumer | HIS,
        )
    ).status_code == 200


def identifiers(mocks: Mocks, households: list[Household]) -> set[str]:
    found: set[str] = set()
    for h in households:
        found |= {h.mother.dni, h.child.cui, h.child.cnv}
        found.add(f"{h.mother.first_surname} {h.mother.second_surname}")
        found.add(f"{h.child.first_surname} {h.child.second_surname}")
        if len(h.mother.given_names) >= 8:
            found.add(h.mother.given_names)
        found |= {line.number for line in h.phone_lines}
        account = mocks.bank.accounts.get(h.mother.dni)
        if account is not None:
            found |= {account.number, account.cci}
    return found


async def test_no_personal_identifier_is_stored_in_clear(
    app: FastAPI,
    settings: Settings,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    households: list[Household] = []
    start = 0
    for n in range(5):
        h = mocks.adult(start)
        start = h.index + 1
        households.append(h)
        await consented(h)
        await touch(http, consumer, h, n)
    assert len(mocks.bank.accounts) == 5
    born = households[0].child.birth_date
    newborns = await http.get(
        "/v1/newborns",
        params={
            "born_from": born.isoformat(),
            "born_to": born.isoformat(),
            "ubigeo": households[0].district.inei,
        },
        headers=consumer | purpose("affiliation"),
    )
    assert newborns.status_code == 200

    # A positive control: a value the gateway does keep in clear (the acting official)
    # must be found by the same scan.
    canary = "official-31415926"
    await http.get(
        f"/v1/persons/{households[0].mother.dni}",
        headers=consumer | purpose("contact", **{"X-User-Id": canary}),
    )
    stored = stored_text(settings.database_url)
    assert found_in_clear([canary], stored) == [canary]
    secrets = identifiers(mocks, households)
    assert len(secrets) > 25
    leaked = found_in_clear(secrets, stored)
    assert leaked == [], f"{len(leaked)} identifiers found in clear"
    # The scan would see them: the same identifiers are in the answers the clients got.
    answers = (
        await http.get(
            f"/v1/persons/{households[0].mother.dni}", headers=consumer | purpose("payment")
        )
    ).text
    assert households[0].mother.first_surname in answers


async def test_data_key_rotation_keeps_old_records_readable(
    app: FastAPI,
    settings: Settings,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    state = app.state.gateway
    h = mocks.adult()
    old_consent = await consented(h)
    first = await http.post(
        "/v1/accounts",
        headers=consumer | purpose("payment", **{"Idempotency-Key": "rotate-0001"}),
        json={"dni": h.mother.dni},
    )
    old_key = state.keyring.current_key_id

    rotated = await invoke_async(["keys", "rotate-data"], env_for(settings))
    assert rotated.exit_code == 0, rotated.output
    # The running gateway still opens records it sealed, and learns the new key when it
    # meets a record sealed under it.
    other = mocks.adult(h.index + 1)
    cli_keyring = DataKeyring(settings.master_key_bytes)
    async with transaction(state.sessions) as session:
        await cli_keyring.load(session)
    new_key = cli_keyring.current_key_id
    assert new_key != old_key
    async with transaction(state.sessions) as session:
        await state.keyring.load(session)
    assert state.keyring.current_key_id == new_key
    new_consent = await consented(other)

    affiliation = consumer | purpose("affiliation")
    for cid in (old_consent, new_consent):
        got = await http.get(f"/v1/consents/{cid}", headers=affiliation)
        assert got.status_code == 200
        assert got.json()["data"]["chain_intact"] is True
    replay = await http.post(
        "/v1/accounts",
        headers=consumer | purpose("payment", **{"Idempotency-Key": "rotate-0001"}),
        json={"dni": h.mother.dni},
    )
    assert replay.json() == first.json()

    async def key_ids() -> set[str]:
        async with transaction(state.sessions) as session:
            blobs = [
                *(await session.scalars(select(Consent.document_sealed))).all(),
                *(await session.scalars(select(ConsentRevision.document_sealed))).all(),
                *(await session.scalars(select(IdempotencyRecord.response_sealed))).all(),
            ]
        return {DataKeyring.key_id_of(b) for b in blobs if b}

    assert await key_ids() == {old_key, new_key}
    result = await invoke_async(["keys", "reencrypt", "--json"], env_for(settings))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["key_id"] == new_key
    assert report["reencrypted"] == {
        "consents": 1,
        "consent_revisions": 1,
        "idempotency_keys": 1,
        "inbound_chunks": 0,
        "exchange_chunks": 0,
        "payment_items": 0,
        "payment_chunks": 0,
        "sms_reminders": 0,
        "subscriptions": 0,
        "partner_credentials": 0,
    }
    assert await key_ids() == {new_key}
    for cid in (old_consent, new_consent):
        got = await http.get(f"/v1/consents/{cid}", headers=affiliation)
        assert got.json()["data"]["cui"] in (h.child.cui, other.child.cui)
    replay = await http.post(
        "/v1/accounts",
        headers=consumer | purpose("payment", **{"Idempotency-Key": "rotate-0001"}),
        json={"dni": h.mother.dni},
    )
    assert replay.json() == first.json()


async def test_purge_removes_exactly_what_retention_says(
    app: FastAPI,
    settings: Settings,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    state = app.state.gateway
    catalog = state.catalog
    consent_days = catalog.data_categories["consent"].retention_days
    replay_days = catalog.data_categories["replay-cache"].retention_days
    now = datetime.now(UTC)
    people = []
    start = 0
    for _ in range(5):
        h = mocks.adult(start)
        start = h.index + 1
        people.append(h)
    ids = [await consented(h) for h in people]
    for n, h in enumerate(people[:3]):
        await http.post(
            "/v1/accounts",
            headers=consumer | purpose("payment", **{"Idempotency-Key": f"purge-{n:04d}"}),
            json={"dni": h.mother.dni},
        )
    ages: dict[str, Any] = {
        # ended long enough ago: goes
        ids[0]: {"state": "revoked", "ended_at": now - timedelta(days=consent_days + 1)},
        # expired long enough ago: goes
        ids[1]: {"expires_at": now - timedelta(days=consent_days + 1)},
        # ended, but within retention: stays
        ids[2]: {"state": "revoked", "ended_at": now - timedelta(days=consent_days - 1)},
        # active and old: stays (retention runs from the end of the consent)
        ids[3]: {"granted_at": now - timedelta(days=consent_days * 2)},
    }
    async with transaction(state.sessions) as session:
        for cid, values in ages.items():
            await session.execute(update(Consent).where(Consent.consent_id == cid).values(**values))
        keys = (await session.scalars(select(IdempotencyRecord.key))).all()
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key.in_(keys[:2]))
            .values(created_at=now - timedelta(days=replay_days, hours=1))
        )

    # Two finished newborn extracts: one past the newborn retention (3 records), one not.
    newborn_days = catalog.data_categories["newborn"].retention_days
    async with transaction(state.sessions) as session:
        for run_id, age in (("run-old", newborn_days + 1), ("run-new", newborn_days - 1)):
            finished = now - timedelta(days=age)
            session.add(
                ExchangeRun(
                    run_id=run_id, name="reniec-newborns", state="succeeded", params={},
                    chunks_done=1, records=3, attempts=0, not_before=finished,
                    triggered_by="test", created_at=finished, finished_at=finished,
                )
            )  # fmt: skip
            await session.flush()
            session.add(
                ExchangeChunk(run_id=run_id, chunk_no=0, rows=3, sealed=b"x", created_at=finished)
            )
    dry = await invoke_async(["purge", "--dry-run", "--json"], env_for(settings))
    staged = {"newborn": 3, "health": 0, "contact": 0, "financial": 0}
    nothing_staged = dict.fromkeys(staged, 0)
    assert json.loads(dry.output) == {
        "dry_run": True,
        "purged": {"consent": 2, "replay-cache": 2, **staged},
    }
    done = await invoke_async(["purge", "--json"], env_for(settings))
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["purged"] == {"consent": 2, "replay-cache": 2, **staged}
    async with transaction(state.sessions) as session:
        left = set((await session.scalars(select(Consent.consent_id))).all())
        revisions = set((await session.scalars(select(ConsentRevision.consent_id))).all())
        replays = (await session.scalars(select(IdempotencyRecord.key))).all()
    assert left == set(ids[2:])
    assert revisions == left
    assert list(replays) == [keys[2]]
    async with transaction(state.sessions) as session:
        runs = (await session.scalars(select(ExchangeRun.run_id))).all()
        chunks = (await session.scalars(select(ExchangeChunk.run_id))).all()
    assert (list(runs), list(chunks)) == (["run-new"], ["run-new"])
    again = await invoke_async(["purge", "--json"], env_for(settings))
    assert json.loads(again.output)["purged"] == {"consent": 0, "replay-cache": 0, **nothing_staged}
