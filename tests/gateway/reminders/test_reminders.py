"""SMS reminders end to end: the programme's batch through the gateway's API, real SMPP
3.4 over TCP to the sandbox SMSC, receipts and replies back into the gateway."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from adapters.smsc.faults import SmscFaults
from adapters.smsc.mock import SmscMock
from adapters.smsc.smpp import gsm_septets
from gateway.core.db import transaction
from gateway.partners.ports import ShortMessageCentre
from gateway.reminders.content import reminder_text
from gateway.reminders.models import OptOut, Reminder
from gateway.reminders.service import SendingWindow
from gateway.retention import purge
from gateway.settings import Settings
from tests.fixtures.gateway import GetToken, audit_log, bearer
from tests.fixtures.smsc import smsc_settings

# Words that would tell a reader of the phone what the child's health is about.
HEALTH_WORDS = (
    "vacuna", "rotavirus", "neumococo", "hierro", "anemia", "diagn", "suplement",
    "vaccine", "iron", "pneumococcal", "supplement", "hemoglobin",
)  # fmt: skip


@pytest.fixture
def settings(settings: Settings, smsc: tuple[SmscMock, int]) -> Settings:
    settings.partners.smsc = smsc_settings(smsc[1])
    return settings


@pytest.fixture
async def follow_up(get_token: GetToken) -> dict[str, str]:
    token = await get_token(["consumer"], ["health-follow-up", "contact"])
    return bearer(token) | {"X-Purpose": "health-follow-up"}


def reminders(keys: range, prefix: str = "2020-11") -> list[dict[str, str]]:
    return [
        {"reminder_key": f"{prefix}:{n:06d}", "dni": f"4{n:07d}", "phone": f"9{n:08d}"}
        for n in keys
    ]


async def until(check: Callable[[], Any], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not reached in time")


async def batch(http: httpx.AsyncClient, headers: dict[str, str], batch_id: str) -> Any:
    answer = await http.get(f"/v1/reminders/{batch_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


async def test_reminders_are_sent_once_and_their_receipts_reconciled(
    app: FastAPI,
    http: httpx.AsyncClient,
    follow_up: dict[str, str],
    smsc: tuple[SmscMock, int],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("gateway", "adapters"):
        caplog.set_level(logging.DEBUG, logger=name)
    mock, _ = smsc
    mock.configure(SmscFaults(receipt_delay_ms=10, undelivered_rate=0.25, expired_rate=0.25))
    body = {"batch_ref": "2020-11-A", "reminders": reminders(range(8))}
    created = await http.post("/v1/reminders", json=body, headers=follow_up)
    assert created.status_code == 201, created.text
    assert created.json()["legal_basis"] == "law-29733-art14"
    data = created.json()["data"]
    assert (data["reminders"], data["queued"]) == (8, 8)

    assert await app.state.gateway.jobs.dispatch("sms-reminders") == 1  # one chunk
    assert mock.counts["accepted"] == 8

    async def settled() -> bool:
        return (await batch(http, follow_up, data["id"]))["submitted"] == 0

    await until(settled)
    done = await batch(http, follow_up, data["id"])
    assert done["state"] == "done"
    assert done["delivered"] + done["failed"] + done["expired"] == 8
    states = mock.states()
    assert done["delivered"] == states.get("DELIVRD", 0)
    assert done["failed"] == states.get("UNDELIV", 0)
    assert done["expired"] == states.get("EXPIRED", 0)
    # Each reminder keeps the SMSC's message id: they are the ones the SMSC issued.
    async with app.state.gateway.sessions() as session:
        kept = set((await session.execute(select(Reminder.message_id))).scalars())
    assert kept == mock.message_ids()

    # The same batch again is that batch; a key asked again in a new batch is not resent.
    again = await http.post("/v1/reminders", json=body, headers=follow_up)
    assert (again.status_code, again.json()["data"]["id"]) == (200, data["id"])
    later = {"batch_ref": "2020-11-B", "reminders": reminders(range(6, 10))}
    more = await http.post("/v1/reminders", json=later, headers=follow_up)
    assert more.json()["data"]["reminders"] == 2
    assert await app.state.gateway.jobs.dispatch("sms-reminders") == 1
    assert mock.counts["accepted"] == 10

    # Every submission is audited: who, for what purpose, on what legal basis.
    sends = [e for e in await audit_log(app) if e.get("fields") == ["phone", "message"]]
    assert len(sends) == 10
    assert {(e["purpose"], e["legal_basis"], e["partner"]) for e in sends} == {
        ("health-follow-up", "law-29733-art14", "smsc")
    }
    # No number, document or text of a message in any log line or audit event.
    logged = caplog.text + "".join(capsys.readouterr()) + str(await audit_log(app))
    for row in reminders(range(10)):
        assert row["phone"] not in logged
        assert row["dni"] not in logged
    assert "pendiente" not in logged


async def test_an_opted_out_phone_gets_no_further_reminder(
    app: FastAPI, http: httpx.AsyncClient, follow_up: dict[str, str], smsc: tuple[SmscMock, int]
) -> None:
    mock, _ = smsc
    first = reminders(range(2))
    created = await http.post(
        "/v1/reminders", json={"batch_ref": "nov", "reminders": first}, headers=follow_up
    )
    assert created.status_code == 201
    jobs = app.state.gateway.jobs
    assert await jobs.dispatch("sms-reminders") == 1
    mock.mobile_originated(first[0]["phone"], " baja ")

    async def recorded() -> bool:
        return mock.counts["deliver_sm_acked"] >= 3  # two receipts and the reply

    await until(recorded)
    december = reminders(range(2), prefix="2020-12")
    answer = await http.post(
        "/v1/reminders", json={"batch_ref": "dec", "reminders": december}, headers=follow_up
    )
    data = answer.json()["data"]
    assert (data["opted_out"], data["queued"]) == (1, 1)
    assert await jobs.dispatch("sms-reminders") == 1
    assert mock.delivered["51" + first[0]["phone"]] == 1
    assert mock.counts["accepted"] == 3


async def test_an_opt_out_stops_a_reminder_already_queued(
    app: FastAPI, http: httpx.AsyncClient, follow_up: dict[str, str], smsc: tuple[SmscMock, int]
) -> None:
    mock, _ = smsc
    gateway = app.state.gateway
    sms = gateway.partners.get(ShortMessageCentre)
    assert await sms.keep_bound()
    rows = reminders(range(1))
    created = await http.post(
        "/v1/reminders", json={"batch_ref": "q", "reminders": rows}, headers=follow_up
    )
    mock.mobile_originated(rows[0]["phone"], "STOP")

    async def stopped() -> bool:
        return (await batch(http, follow_up, created.json()["data"]["id"]))["opted_out"] == 1

    await until(stopped)
    assert await gateway.jobs.dispatch("sms-reminders") == 0
    assert mock.counts["submit_sm"] == 0


async def test_throttled_submissions_are_retried_without_duplicates(
    app: FastAPI, http: httpx.AsyncClient, follow_up: dict[str, str], smsc: tuple[SmscMock, int]
) -> None:
    mock, _ = smsc
    # Delivery takes longer than a resend: a copy lost unanswered is still pending.
    mock.configure(SmscFaults(receipt_delay_ms=2000, throttle_rate=0.4, drop_rate=0.1, seed=11))
    rows = reminders(range(12))
    created = await http.post(
        "/v1/reminders", json={"batch_ref": "t", "reminders": rows}, headers=follow_up
    )
    batch_id = created.json()["data"]["id"]
    jobs = app.state.gateway.jobs
    for _ in range(20):
        await jobs.dispatch("sms-reminders")
        if (await batch(http, follow_up, batch_id))["queued"] == 0:
            break
        await asyncio.sleep(0.6)  # the runner's backoff for a reminder that failed
    assert mock.counts["throttled"] > 0
    assert mock.counts["dropped"] > 0

    async def settled() -> bool:
        return (await batch(http, follow_up, batch_id))["delivered"] == 12

    await until(settled)
    assert mock.counts["replaced"] > 0  # resends after a cut link replaced, not doubled
    assert all(mock.delivered["51" + r["phone"]] == 1 for r in rows)


async def test_a_refused_bind_leaves_the_reminders_queued_for_later(
    app: FastAPI, http: httpx.AsyncClient, follow_up: dict[str, str], smsc: tuple[SmscMock, int]
) -> None:
    mock, _ = smsc
    mock.configure(SmscFaults(refuse_bind=True))
    rows = reminders(range(3))
    created = await http.post(
        "/v1/reminders", json={"batch_ref": "b", "reminders": rows}, headers=follow_up
    )
    batch_id = created.json()["data"]["id"]
    jobs = app.state.gateway.jobs
    assert await jobs.dispatch("sms-reminders") == 1
    # The SMS centre refused the gateway, not the messages: none is refused for good.
    data = await batch(http, follow_up, batch_id)
    assert (data["queued"], data["refused"]) == (3, 0)
    mock.configure(SmscFaults())
    await asyncio.sleep(1.1)  # the backoff after a first failed attempt (1 s)

    async def sent() -> bool:
        await jobs.dispatch("sms-reminders")
        return (await batch(http, follow_up, batch_id))["delivered"] == 3

    await until(sent)
    assert all(mock.delivered["51" + r["phone"]] == 1 for r in rows)


async def test_nothing_is_sent_outside_the_sending_hours(
    app: FastAPI, http: httpx.AsyncClient, follow_up: dict[str, str], smsc: tuple[SmscMock, int]
) -> None:
    mock, _ = smsc
    hour = datetime.now(UTC).astimezone(ZoneInfo("America/Lima")).hour
    reminders_service = app.state.gateway.reminders

    reminders_service.window = SendingWindow((hour + 1) % 24, (hour + 1) % 24 + 1)
    await http.post(
        "/v1/reminders",
        json={"batch_ref": "n", "reminders": reminders(range(2))},
        headers=follow_up,
    )
    assert await app.state.gateway.jobs.dispatch("sms-reminders") == 0
    reminders_service.window = SendingWindow(0, 24)
    assert await app.state.gateway.jobs.dispatch("sms-reminders") == 1
    assert mock.counts["accepted"] == 2


async def test_a_stop_word_sent_outside_the_sending_hours_stops_the_queued_reminders(
    app: FastAPI, http: httpx.AsyncClient, follow_up: dict[str, str], smsc: tuple[SmscMock, int]
) -> None:
    mock, _ = smsc
    gateway = app.state.gateway
    hour = datetime.now(UTC).astimezone(ZoneInfo("America/Lima")).hour
    gateway.reminders.window = SendingWindow((hour + 1) % 24, (hour + 1) % 24 + 1)
    rows = reminders(range(2))
    created = await http.post(
        "/v1/reminders", json={"batch_ref": "night", "reminders": rows}, headers=follow_up
    )
    assert await gateway.jobs.run_task("sms-bind") == 1  # bound though nothing is sent
    mock.mobile_originated(rows[0]["phone"], "BAJA")

    async def stopped() -> bool:
        return (await batch(http, follow_up, created.json()["data"]["id"]))["opted_out"] == 1

    await until(stopped)
    gateway.reminders.window = SendingWindow(0, 24)
    assert await gateway.jobs.dispatch("sms-reminders") == 1
    assert mock.counts["accepted"] == 1


async def test_role_and_purpose_are_checked_against_the_catalog(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    body = {"batch_ref": "x", "reminders": reminders(range(1))}
    contact = bearer(await get_token(["consumer"], ["contact"])) | {"X-Purpose": "contact"}
    refused = await http.post("/v1/reminders", json=body, headers=contact)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["allowed_purposes"] == ["health-follow-up"]
    auditor = bearer(await get_token(["auditor"], ["health-follow-up"]))
    wrong_role = await http.post(
        "/v1/reminders", json=body, headers=auditor | {"X-Purpose": "health-follow-up"}
    )
    assert wrong_role.status_code == 403
    assert wrong_role.headers["content-type"].startswith("application/problem+json")


async def test_bad_rows_are_named_without_their_values(
    http: httpx.AsyncClient, follow_up: dict[str, str]
) -> None:
    rows = [{"reminder_key": "k1", "dni": "123", "phone": "0123456789"}]
    answer = await http.post(
        "/v1/reminders", json={"batch_ref": "bad", "reminders": rows}, headers=follow_up
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in answer.json()["errors"]]
    assert fields == ["body.reminders[0].dni", "body.reminders[0].phone"]
    assert "0123456789" not in answer.text


async def test_a_field_a_reminder_does_not_have_refuses_the_batch(
    http: httpx.AsyncClient, follow_up: dict[str, str]
) -> None:
    """As every other body: a key the contract lacks is refused, named by its place when
    it may be a value (a phone number written as a key), and nothing is queued."""
    good = {"reminder_key": "k1", "dni": "60542601", "phone": "918888091"}
    rows = [good, {**good, "reminder_key": "k2", "918888092": 1, "extra": "y"}]
    answer = await http.post(
        "/v1/reminders", json={"batch_ref": "extra", "reminders": rows}, headers=follow_up
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [
        {"field": "body.reminders[1].key4", "message": "not a field of this operation"},
        {"field": "body.reminders[1].extra", "message": "not a field of this operation"},
    ]
    assert "918888092" not in answer.text
    again = await http.post(
        "/v1/reminders", json={"batch_ref": "extra", "reminders": [good]}, headers=follow_up
    )
    assert again.status_code == 201, again.text  # the refused batch left nothing behind


async def test_a_large_bad_batch_lists_its_first_thousand_errors(
    http: httpx.AsyncClient, follow_up: dict[str, str]
) -> None:
    """Two errors in each of 5,000 rows: the answer lists the first 1,000 and says how
    many there were, so that its size is bounded whatever the batch's (it listed every
    error, about four times the batch's own size)."""
    rows = [{"reminder_key": f"k{n}", "dni": "0000000X", "phone": "9"} for n in range(5_000)]
    body = {"batch_ref": "large", "reminders": rows}
    answer = await http.post("/v1/reminders", json=body, headers=follow_up)
    assert answer.status_code == 422
    problem = answer.json()
    assert len(problem["errors"]) == 1_000
    assert problem["errors"][-1]["field"] == "body.reminders[499].phone"
    assert problem["detail"] == "10,000 invalid fields; the first 1,000 are listed"
    assert len(answer.content) < len(json.dumps(body)) / 2
    few = await http.post(
        "/v1/reminders", json={"batch_ref": "few", "reminders": rows[:2]}, headers=follow_up
    )
    assert few.json()["detail"] == (
        "invalid fields: body.reminders[0].dni, body.reminders[0].phone, "
        "body.reminders[1].dni, body.reminders[1].phone"
    )


async def test_bad_rows_are_told_in_the_readers_language(
    http: httpx.AsyncClient, follow_up: dict[str, str]
) -> None:
    rows = [
        {"reminder_key": "k 1", "dni": "12345678", "phone": "912345678"},
        {"reminder_key": "k2", "dni": "123", "phone": "812345678"},
        {"reminder_key": "k2", "dni": "12345678", "phone": "912345678"},
    ]
    body = {"batch_ref": "bad", "template": "other", "reminders": rows}
    messages = {}
    for language in ("es-PE", "en"):
        headers = follow_up | {"Accept-Language": language}
        answer = await http.post("/v1/reminders", json=body, headers=headers)
        assert answer.status_code == 422
        messages[language] = {e["field"]: e["message"] for e in answer.json()["errors"]}
    key_rule = "se esperaban de 1 a 64 caracteres entre A-Z a-z 0-9 . _ : -"
    dni_rule = "se esperaban 8 dígitos, seguidos o no del carácter de verificación"
    assert messages["es-PE"] == {
        "body.template": "se esperaba uno de pending-service",
        "body.reminders[0].reminder_key": key_rule,
        "body.reminders[1].dni": dni_rule,
        "body.reminders[1].phone": "se esperaba un número móvil de 9 dígitos que empiece con 9",
        "body.reminders[2].reminder_key": "repetido en este lote",
    }
    assert messages["en"]["body.reminders[2].reminder_key"] == "repeated in this batch"


async def test_a_dni_with_its_check_character_is_that_dni(
    http: httpx.AsyncClient, follow_up: dict[str, str]
) -> None:
    # RENIEC prints the DNI with its check character; it names the same caregiver.
    rows = [{"reminder_key": "dv-1", "dni": "60542601-3", "phone": "912345678"}]
    answer = await http.post(
        "/v1/reminders", json={"batch_ref": "dv", "reminders": rows}, headers=follow_up
    )
    assert answer.status_code == 201, answer.text
    wrong = [{"reminder_key": "dv-2", "dni": "60542601-4", "phone": "912345678"}]
    answer = await http.post(
        "/v1/reminders", json={"batch_ref": "dv-bad", "reminders": wrong}, headers=follow_up
    )
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["body.reminders[0].dni"]


@pytest.mark.parametrize("locale", ["es", "en"])
def test_the_message_names_no_health_detail_and_fits_one_sms(locale: str) -> None:
    text = reminder_text("pending-service", locale)
    assert text.startswith("JUNTOS:")
    assert "BAJA" in text  # how to opt out
    assert not [w for w in HEALTH_WORDS if w in text.lower()]
    septets = gsm_septets(text)
    assert septets is not None
    assert septets <= 160


def test_the_spanish_message_is_spanish() -> None:
    assert "establecimiento de salud" in reminder_text("pending-service")


async def test_reminders_leave_with_the_contact_retention_and_opt_outs_stay(
    app: FastAPI, http: httpx.AsyncClient, follow_up: dict[str, str], smsc: tuple[SmscMock, int]
) -> None:
    mock, _ = smsc
    state = app.state.gateway
    assert await state.partners.get(ShortMessageCentre).keep_bound()
    rows = reminders(range(3))
    await http.post("/v1/reminders", json={"batch_ref": "r", "reminders": rows}, headers=follow_up)
    mock.mobile_originated(rows[0]["phone"], "BAJA")

    async def opted_out() -> bool:
        async with state.sessions() as session:
            return bool((await session.execute(select(OptOut))).scalars().all())

    await until(opted_out)
    days = state.catalog.data_categories["contact"].retention_days
    async with transaction(state.sessions) as session:
        kept = await purge(session, state.catalog, now=datetime.now(UTC) + timedelta(days=days - 1))
        assert kept.get("contact", 0) == 0
        gone = await purge(session, state.catalog, now=datetime.now(UTC) + timedelta(days=days + 1))
        assert gone["contact"] == 3
    async with state.sessions() as session:
        assert not (await session.execute(select(Reminder))).scalars().all()
    assert await opted_out()
