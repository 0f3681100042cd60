"""The consumer endpoints on the in-process fake partners (``GATEWAY_ADAPTERS=
adapters.fakes:register``): the same answers as on the mock servers, without a server,
HTTP or a resilience guard, so these run in a fraction of the time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from adapters.bn.settings import BankSettings
from adapters.fakes import FakeBank, FakeShortMessageCentre, FakeTelecomRegistry
from adapters.sandbox.population import Population, check_digit
from adapters.sandbox.settings import SandboxSettings
from gateway.partners.health import PartnerHealth
from gateway.partners.models import Transfer
from gateway.partners.ports import Bank, ShortMessageCentre, TelecomRegistry
from gateway.partners.registry import PartnerRegistry
from gateway.reminders.content import reminder_text
from gateway.reminders.service import SendingWindow
from gateway.settings import Settings
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.partners import Grant, adult, on_fakes, purpose


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return on_fakes(settings)


@pytest.fixture(scope="module")
def population() -> Population:
    return SandboxSettings(_env_file=None).population  # type: ignore[call-arg]


async def test_the_wiring_setting_selects_the_fakes(app: FastAPI) -> None:
    partners = app.state.gateway.partners
    assert isinstance(partners.get(Bank), FakeBank)
    assert isinstance(partners.get(TelecomRegistry), FakeTelecomRegistry)


async def test_person_answer_holds_only_the_purposes_fields(
    http: httpx.AsyncClient, population: Population, consumer: dict[str, str]
) -> None:
    h = adult(population)
    answer = await http.get(
        f"/v1/persons/{h.mother.dni}-{h.mother.check_digit}",
        headers=consumer | purpose("affiliation", **{"X-User-Id": "agent-17"}),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == {
        "dni": h.mother.dni,
        "first_surname": h.mother.first_surname,
        "second_surname": h.mother.second_surname,
        "given_names": h.mother.given_names,
        "address": h.address,
        "place_name": h.district.reniec_label,
        "ubigeo": h.district.inei,
        "restriction": h.mother.restriction,
    }
    child = await http.get(f"/v1/persons/{h.child.cui}", headers=consumer | purpose("contact"))
    assert child.status_code == 404
    assert child.json()["type"] == "/problems/partner-not-found"


async def test_phone_lines_for_contact_and_for_affiliation(
    http: httpx.AsyncClient, population: Population, consumer: dict[str, str]
) -> None:
    h = adult(population, lines=lambda h: len(h.phone_lines) >= 1)
    contact = await http.get(
        f"/v1/persons/{h.mother.dni}/phone-lines", headers=consumer | purpose("contact")
    )
    assert contact.status_code == 200, contact.text
    assert [line["number"] for line in contact.json()["data"]] == [
        line.number for line in h.phone_lines
    ]
    affiliation = await http.get(
        f"/v1/persons/{h.mother.dni}/phone-lines", headers=consumer | purpose("affiliation")
    )
    for line in affiliation.json()["data"]:
        assert set(line) == {"operator", "modality"}


async def test_account_opening_and_lookup(
    http: httpx.AsyncClient, population: Population, consumer: dict[str, str], consented: Grant
) -> None:
    h = adult(population)
    await consented(h)
    missing = await http.get(f"/v1/accounts/{h.mother.dni}", headers=consumer | purpose("payment"))
    assert missing.status_code == 404
    assert missing.json()["type"] == "/problems/partner-not-found"
    opened = await http.post(
        "/v1/accounts",
        headers=consumer | purpose("payment", **{"Idempotency-Key": "open-0001"}),
        json={"dni": f"{h.mother.dni}{check_digit(h.mother.dni)}"},
    )
    assert opened.status_code == 201, opened.text
    found = await http.get(f"/v1/accounts/{h.mother.dni}", headers=consumer | purpose("payment"))
    assert found.json()["data"] == opened.json()["data"]
    assert found.json()["data"]["cci"].startswith("018")


async def test_health_services_of_a_child(
    http: httpx.AsyncClient, population: Population, consumer: dict[str, str], consented: Grant
) -> None:
    h = adult(population, served=lambda h: len(population.health_records(h)) >= 3)
    await consented(h)
    services = await http.get(
        f"/v1/children/{h.child.cui}/health-services",
        headers=consumer | purpose("coresponsibility-verification"),
    )
    assert services.status_code == 200, services.text
    rows = services.json()["data"]
    assert [r["item_code"] for r in rows] == [r.item_code for r in population.health_records(h)]
    assert all(
        set(r) == {"appointment_id", "service_date", "facility", "item_code", "lab_value"}
        for r in rows
    )


async def test_fake_bank_pays_open_accounts_once(population: Population) -> None:
    registry = PartnerRegistry(PartnerHealth(CollectorRegistry()))
    bank = FakeBank(population, BankSettings(), registry)
    payee, stranger = adult(population), adult(population, 1000)
    account = await bank.open_account(payee.mother.dni, None, "req-1")
    assert account.newly_opened
    assert not (await bank.open_account(payee.mother.dni, None, "req-2")).newly_opened
    transfers = [
        Transfer("E2E-1", "200.00", payee.mother.full_name, account.cci),
        Transfer("E2E-2", "200.00", stranger.mother.full_name, "01800100000000000000"),
    ]
    now = datetime(2021, 3, 1, 9, tzinfo=UTC)
    document = bank.payment_document("MSG-1", now, now.date(), transfers)
    report = await bank.submit_payments(document)
    assert [(t.end_to_end_id, t.status, t.reason) for t in report.transactions] == [
        ("E2E-1", "ACSC", None),
        ("E2E-2", "RJCT", "AC01"),
    ]
    assert await bank.submit_payments(document) == report  # a resend: the first report
    again = bank.payment_document("MSG-2", now, now.date(), transfers[:1])
    assert [t.status for t in (await bank.submit_payments(again)).transactions] == ["RJCT"]
    assert [s.end_to_end_id for s in await bank.settled_payments(["MSG-1"])] == ["E2E-1"]
    await registry.aclose()


async def test_reminders_on_the_fake_sms_centre(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    sms = app.state.gateway.partners.get(ShortMessageCentre)
    assert isinstance(sms, FakeShortMessageCentre)
    app.state.gateway.reminders.window = SendingWindow(0, 24)  # whatever the hour now
    headers = bearer(await get_token(["consumer"], ["health-follow-up"]))
    headers |= purpose("health-follow-up")
    row = {"reminder_key": "2020-11:fake-1", "dni": "40000001", "phone": "987654321"}
    created = await http.post(
        "/v1/reminders", json={"batch_ref": "fake", "reminders": [row]}, headers=headers
    )
    assert created.status_code == 201, created.text
    await app.state.gateway.jobs.dispatch("sms-reminders")
    assert sms.sent == [("987654321", reminder_text("pending-service"))]
    batch_id = created.json()["data"]["id"]
    for _ in range(100):
        answer = await http.get(f"/v1/reminders/{batch_id}", headers=headers)
        if answer.json()["data"]["delivered"] == 1:
            break
        await asyncio.sleep(0.05)
    assert answer.json()["data"]["delivered"] == 1
