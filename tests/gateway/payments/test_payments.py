"""Payment runs: each EndToEndId paid at most once, through retries, resends and kills."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.core.db import transaction
from gateway.payments.service import check_item
from gateway.settings import Settings
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.partners import Grant, Mocks, purpose
from tests.fixtures.payments import payees, roll, transfer

pytestmark = pytest.mark.partner_mocks


async def in_transaction(state: Any, method: Any, *args: Any) -> Any:
    """Call a service method in a transaction of its own, as a request would."""
    async with transaction(state.sessions) as session:
        return await method(session, *args)


CLI = str(Path(sys.executable).with_name("juntos-gateway"))
KILLS = int(os.environ.get("GATEWAY_SOAK_KILLS", "3"))
SMALL_CHUNKS = pytest.mark.parametrize(
    "settings", [{"bn": {"payment_chunk_size": 5}}], indirect=True, ids=["chunks-of-5"]
)


@SMALL_CHUNKS
async def test_a_roll_is_paid_once_and_reconciled(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    people = await payees(http, mocks, consumer, consented, 12)
    transfers = [transfer(n, h, a) for n, (h, a) in enumerate(people)]
    without_consent = mocks.adult(people[-1][0].index + 1)
    transfers.append(
        {**transfers[0], "end_to_end_id": "DU095-T1-NOCONSENT", "dni": without_consent.mother.dni}
    )
    transfers.append({**transfers[1], "end_to_end_id": "DU095-T1-BADCCI", "cci": "123"})
    transfers.append(dict(transfers[2]))  # the same EndToEndId twice in one roll
    # A key a transfer does not have is not dropped unseen; one that may be a value is
    # named by its position.
    misspelt = {k: v for k, v in transfers[3].items() if k != "dni"}
    transfers.append(misspelt | {"end_to_end_id": "DU095-T1-EXTRA", "Dni": transfers[3]["dni"]})
    transfers.append({**transfers[4], "end_to_end_id": "DU095-T1-KEY", "60542601": "x"})
    transfers.append({**transfers[5], "end_to_end_id": "DU095-T1-NAN", "amount": "NaN"})
    pay = consumer | purpose("payment")
    created = await http.post("/v1/payment-runs", json=roll("2021-03-T1", transfers), headers=pay)
    assert created.status_code == 201, created.text
    run = created.json()["data"]
    assert (run["items"], run["chunks"], run["rejected_at_intake"]) == (12, 3, 6)
    reasons = {r["field"]: r["reason"] for r in run["reconciliation"]["rejected_at_intake"]}
    assert reasons["Dni"] == reasons["key6"] == "not a field of a transfer"
    assert reasons["amount"] == "expected an amount in soles, such as 200.00"  # NaN: not a 500
    assert "60542601" not in created.text
    assert reasons["dni"] == "consent-required"  # the code; its message says it in words
    assert reasons["cci"].startswith("expected")
    assert without_consent.mother.dni not in created.text
    # The reasons are read in the reader's language, as a problem's messages are.
    spanish = await http.get(
        f"/v1/payment-runs/{run['id']}", headers=pay | {"Accept-Language": "es"}
    )
    rejected = spanish.json()["data"]["reconciliation"]["rejected_at_intake"]
    en_espanol = {r["field"]: r["message"] for r in rejected}
    assert en_espanol["Dni"] == "no es un campo de una transferencia"
    assert en_espanol["amount"] == "se esperaba un monto en soles, como 200.00"
    assert en_espanol["dni"].startswith("la persona titular no tiene un consentimiento activo")

    again = await http.post("/v1/payment-runs", json=roll("2021-03-T1", transfers), headers=pay)
    assert again.status_code == 200
    assert again.json()["data"]["id"] == run["id"]

    state = app.state.gateway
    assert await state.jobs.work_available() == 1
    done = (await http.get(f"/v1/payment-runs/{run['id']}", headers=pay)).json()["data"]
    assert (done["state"], done["paid"], done["rejected"], done["pending"]) == ("done", 12, 0, 0)
    assert done["reconciliation"]["booked"] == 12
    assert done["reconciliation"]["second_debits"] == []
    assert sorted(mocks.bank.ledger) == sorted(t["end_to_end_id"] for t in transfers[:12])

    # A later roll cannot carry an EndToEndId again.
    reused = await http.post(
        "/v1/payment-runs", json=roll("2021-03-T2", transfers[:2]), headers=pay
    )
    # Nothing of it can be paid: refused whole, naming each row, and nothing stored.
    assert reused.status_code == 422, reused.text
    assert reused.json()["errors"] == [
        {
            "field": f"body.transfers[{i}].end_to_end_id",
            "message": "already in an earlier roll",
            "reason": "already in an earlier roll",
        }
        for i in range(2)
    ]
    assert len(mocks.bank.ledger) == 12
    # In the reader's language, a holder without consent told in words, not by its slug.
    spanish = pay | {"Accept-Language": "es"}
    refused = await http.post(
        "/v1/payment-runs", json=roll("2021-03-T2", [transfers[0], transfers[12]]), headers=spanish
    )
    assert refused.status_code == 422, refused.text
    # Each refusal's code (reason) beside its words, for programs that key on it.
    assert refused.json()["errors"] == [
        {
            "field": "body.transfers[0].end_to_end_id",
            "message": "ya está en una planilla anterior",
            "reason": "already in an earlier roll",
        },
        {
            "field": "body.transfers[1].dni",
            "message": "la persona titular no tiene un consentimiento activo para pagos con datos "
            "financieros",
            "reason": "consent-required",
        },
    ]
    # The run_ref was not used up: a payable roll under it is accepted.
    fresh = [{**t, "end_to_end_id": f"{t['end_to_end_id']}-B"} for t in transfers[:1]]
    again = await http.post("/v1/payment-runs", json=roll("2021-03-T2", fresh), headers=pay)
    assert again.status_code == 201, again.text
    assert again.json()["data"]["items"] == 1


@SMALL_CHUNKS
async def test_sigkill_during_a_payment_run_never_pays_twice(
    settings: Settings,
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    count = max(40, 6 * KILLS)  # chunks of five: more chunks than kills
    people = await payees(http, mocks, consumer, consented, count)
    transfers = [transfer(n, h, a) for n, (h, a) in enumerate(people)]
    pay = consumer | purpose("payment")
    created = await http.post("/v1/payment-runs", json=roll("2021-05-T1", transfers), headers=pay)
    run = created.json()["data"]
    assert run["chunks"] == count // 5
    env = {
        **os.environ,
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_VAR_DIR": str(settings.var_dir),
        "GATEWAY_EXCHANGES_LEASE_SECONDS": "1",
        "GATEWAY_LOG_LEVEL": "WARNING",
        **{f"GATEWAY_PARTNERS__{n.upper()}__BASE_URL": u for n, u in mocks.urls.items()},
    }
    # Slow answers, and some lost after the bank has acted: the worst case for doubles.
    await mocks.faults("bn", latency_ms=80, malformed_rate=0.2, seed=5)
    state = app.state.gateway
    rng = random.Random(KILLS)
    for _ in range(KILLS):
        worker = await asyncio.create_subprocess_exec(
            CLI, "exchanges", "work", "--until-idle", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        target = (await in_transaction(state, state.payments.view, run["id"]))["chunks_done"] + 1
        for _ in range(400):
            if (await in_transaction(state, state.payments.view, run["id"]))[
                "chunks_done"
            ] >= target:
                break
            await asyncio.sleep(0.02)
        # Often lands between building, sending and recording a chunk.
        await asyncio.sleep(rng.uniform(0.0, 0.1))
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
        await asyncio.sleep(1.1)  # the lease expires
    assert (await in_transaction(state, state.payments.view, run["id"]))["state"] != "done"
    await mocks.faults("bn", latency_ms=0, malformed_rate=0.0)
    resumed = await asyncio.create_subprocess_exec(
        CLI, "exchanges", "work", "--until-idle", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await resumed.wait() == 0
    final = await in_transaction(state, state.payments.view, run["id"])
    assert (final["state"], final["paid"], final["rejected"]) == ("done", count, 0)
    assert final["reconciliation"]["second_debits"] == []
    # The bank's own ledger: every EndToEndId settled exactly once, nothing refused as a
    # repeat (AM05), and the balance moved by exactly one S/ 200 per payee.
    assert sorted(mocks.bank.ledger) == sorted(t["end_to_end_id"] for t in transfers)
    assert sum(s.amount for s in mocks.bank.ledger.values()) == count * 200


async def test_the_bank_pushes_status_reports_and_notifications(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
    get_token: GetToken,
) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from sqlalchemy import select, update

    from adapters.bn.iso20022 import (
        Entry,
        Notification,
        PaymentInfoStatus,
        StatusReport,
        TransactionStatus,
        build_camt054,
        build_pain002,
    )
    from gateway.core.db import transaction
    from gateway.payments.models import PaymentItem

    people = await payees(http, mocks, consumer, consented, 2)
    transfers = [transfer(n, h, a) for n, (h, a) in enumerate(people)]
    pay = consumer | purpose("payment")
    await http.post("/v1/payment-runs", json=roll("2021-07-T1", transfers), headers=pay)
    state = app.state.gateway
    async with transaction(state.sessions) as session:  # waiting for the bank's answer
        await session.execute(update(PaymentItem).values(status="pending"))
    now = datetime.now(UTC)
    report = build_pain002(
        StatusReport(
            msg_id="ST0001",
            created_at=now,
            original_msg_id="J0001",
            group_status="PART",
            payment_infos=(
                PaymentInfoStatus(
                    "J0001-1",
                    "PART",
                    transactions=(
                        TransactionStatus(transfers[0]["end_to_end_id"], "ACSC", accepted_at=now),
                        TransactionStatus(
                            transfers[1]["end_to_end_id"], "RJCT", "AC04", "cuenta cerrada"
                        ),
                    ),
                ),
            ),
        )
    )
    bank = bearer(await get_token(["partner"], ["payment"])) | purpose("payment")
    xml = {"Content-Type": "application/xml"}
    pushed = await http.post(
        "/v1/inbound/bn/payment-status",
        content=report,
        headers=bank | xml | {"X-Message-Id": "ST0001"},
    )
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["data"]["rows_accepted"] == 2, pushed.text
    async with transaction(state.sessions) as session:
        items = dict(
            (await session.execute(select(PaymentItem.end_to_end_id, PaymentItem.status))).all()
        )
    assert items == {
        transfers[0]["end_to_end_id"]: "paid",
        transfers[1]["end_to_end_id"]: "rejected",
    }
    resent = await http.post(
        "/v1/inbound/bn/payment-status",
        content=report,
        headers=bank | xml | {"X-Message-Id": "ST0001"},
    )
    assert resent.status_code == 200
    assert resent.json()["data"]["receipt"] == pushed.json()["data"]["receipt"]

    notice = build_camt054(
        Notification(
            msg_id="NT0001",
            created_at=now,
            notification_id="N-1",
            account="00000000000000000001",
            entries=(
                Entry(Decimal("200.00"), "DBIT", now.date(), "AB1", transfers[0]["end_to_end_id"]),
            ),
        )
    )
    booked = await http.post(
        "/v1/inbound/bn/settlements",
        content=notice,
        headers=bank | xml | {"X-Message-Id": "NT0001"},
    )
    assert booked.status_code == 201, booked.text
    assert booked.json()["data"]["rows_accepted"] == 1

    hostile = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><Document>&x;</Document>'
    refused = await http.post(
        "/v1/inbound/bn/payment-status",
        content=hostile,
        headers=bank | xml | {"X-Message-Id": "EVIL-1"},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body"
    again = await http.post(
        "/v1/inbound/bn/payment-status",
        content=report,
        headers=bank | xml | {"X-Message-Id": "EVIL-1"},
    )
    assert again.status_code == 201  # the refused message left nothing behind under its id
    wrong = await http.post(
        "/v1/inbound/bn/settlements",
        content=notice,
        headers=bank | {"X-Message-Id": "NT0002", "Content-Type": "text/csv"},
    )
    assert wrong.status_code == 415


async def _rejected_while_retried(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
    get_token: GetToken,
    ref: str,
    *,
    whole_group: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A run of two transfers whose sending fails (the bank unavailable) while the bank
    pushes a rejection of its message: of the whole group, or of the second transfer
    only. Then the bank recovers and the run is worked to its end; its view."""
    from datetime import UTC, datetime

    from sqlalchemy import select, update

    from adapters.bn.iso20022 import (
        PaymentInfoStatus,
        StatusReport,
        TransactionStatus,
        build_pain002,
    )
    from gateway.payments.models import PaymentChunk, PaymentRun

    people = await payees(http, mocks, consumer, consented, 2)
    transfers = [transfer(n, h, a) for n, (h, a) in enumerate(people)]
    pay = consumer | purpose("payment")
    created = await http.post("/v1/payment-runs", json=roll(ref, transfers), headers=pay)
    run_id = created.json()["data"]["id"]
    state = app.state.gateway
    await mocks.faults("bn", error_rate=1.0)
    await state.jobs.work_available()  # built and stored, its sending postponed
    async with transaction(state.sessions) as session:
        msg_id = (await session.execute(select(PaymentChunk.msg_id))).scalar_one()
    second = transfers[1]["end_to_end_id"]
    report = StatusReport(
        msg_id=f"ST-{ref}",
        created_at=datetime.now(UTC),
        original_msg_id=msg_id,
        group_status="RJCT" if whole_group else None,
        group_reason="FF01" if whole_group else None,
        payment_infos=()
        if whole_group
        else (
            PaymentInfoStatus(
                f"{msg_id}-1", transactions=(TransactionStatus(second, "RJCT", "AC04"),)
            ),
        ),
    )
    bank = bearer(await get_token(["partner"], ["payment"])) | purpose("payment")
    pushed = await http.post(
        "/v1/inbound/bn/payment-status",
        content=build_pain002(report),
        headers=bank | {"Content-Type": "application/xml", "X-Message-Id": f"ST-{ref}"},
    )
    assert pushed.status_code == 201, pushed.text
    await mocks.faults("bn", error_rate=0.0)
    async with transaction(state.sessions) as session:  # the backoff is over
        await session.execute(update(PaymentRun).values(not_before=datetime.now(UTC)))
    assert await state.jobs.work_available() == 1
    return await in_transaction(state, state.payments.view, run_id), transfers


async def test_a_message_the_bank_rejected_while_it_was_retried_is_not_sent_again(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
    get_token: GetToken,
) -> None:
    view, _ = await _rejected_while_retried(
        app, http, mocks, consumer, consented, get_token, "2021-09-T1", whole_group=True
    )
    assert (view["state"], view["paid"], view["rejected"]) == ("done", 0, 2)
    assert view["rejected_by_reason"] == {"FF01": 2}
    assert view["last_error"] is None  # the failed attempts are over
    assert mocks.bank.ledger == {}  # the bank never got the message: nothing paid


async def test_an_outcome_the_bank_pushed_is_kept_when_its_report_comes(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
    get_token: GetToken,
) -> None:
    view, transfers = await _rejected_while_retried(
        app, http, mocks, consumer, consented, get_token, "2021-09-T2", whole_group=False
    )
    # The first transfer still waited: the message was sent and the bank's answer gave
    # its outcome. The second kept the rejection the bank pushed, and the bank booking it
    # all the same is what the reconciliation reports.
    assert (view["paid"], view["rejected"]) == (1, 1)
    second = transfers[1]["end_to_end_id"]
    assert view["reconciliation"]["rejected_but_booked"] == [second]


async def test_names_and_amounts_the_bank_could_not_take_are_refused_at_intake(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> None:
    """A name a pain.001 cannot carry used to be accepted and hold its whole chunk in
    retries; an amount written as a JSON number was rounded before it was checked."""
    people = await payees(http, mocks, consumer, consented, 1)
    good = transfer(0, *people[0])
    without_consent = mocks.adult(people[-1][0].index + 1).mother.dni
    variants = [
        ("NOCONSENT", {"dni": without_consent}),  # refused after the field checks
        ("SURROGATE", {"name": "\ud800X"}),
        ("CONTROL", {"name": "A\u0001B"}),
        ("BLANK", {"name": "   "}),
        ("LONG", {"name": "N" * 141}),
        ("NUMBER", {"amount": "@200.0000000000000001@"}),
        ("HUGE", {"amount": "@1e400@"}),
        ("NONAME", {"name": None}),
    ]
    transfers = [good] + [
        {**good, "end_to_end_id": f"DU095-T1-{ref}", **change} for ref, change in variants
    ]
    # The two amounts written as JSON numbers, as a client may write them.
    body = re.sub(r'"@([^@]+)@"', r"\1", json.dumps(roll("2021-03-T1", transfers)))
    pay = consumer | purpose("payment") | {"Content-Type": "application/json"}
    created = await http.post(
        "/v1/payment-runs", content=body, headers=pay | {"Accept-Language": "es"}
    )
    assert created.status_code == 201, created.text
    assert created.headers["content-language"] == "es"
    assert "Accept-Language" in created.headers["vary"]
    run = created.json()["data"]
    assert run["items"] == 1
    rejected = run["reconciliation"]["rejected_at_intake"]
    assert [r["row"] for r in rejected] == list(range(2, 2 + len(variants)))  # roll order
    assert [(r["field"], r["message"]) for r in rejected] == [
        (
            "dni",
            "la persona titular no tiene un consentimiento activo para pagos con datos financieros",
        ),
        ("name", "se esperaba texto Unicode válido"),
        ("name", "no se admiten caracteres de control"),
        ("name", "vacío: se necesita el nombre de la persona titular"),
        ("name", "de 1 a 140 caracteres"),
        ("amount", "mayor que 0, como máximo 10,000, con dos decimales"),
        ("amount", "mayor que 0, como máximo 10,000, con dos decimales"),
        ("name", "obligatorio"),
    ]
    english = await http.get(f"/v1/payment-runs/{run['id']}", headers=pay)
    assert english.headers["content-language"] == "en"
    assert run["rejected_at_intake"] == english.json()["data"]["rejected_at_intake"] == 8
    rejected = english.json()["data"]["reconciliation"]["rejected_at_intake"]
    assert rejected[0]["message"] == (
        "no active consent of the holder for payment with financial data"
    )
    # The code stays the same in every language: clients key on it.
    assert [r["reason"] for r in rejected[:2]] == [
        "consent-required",
        "expected valid Unicode text",
    ]


ROW = {"end_to_end_id": "E-1", "dni": "60542601", "cci": "01820347943696204803", "name": "ANA"}


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("200.00", None),
        ("200", None),
        ("200.5", None),
        (200, None),
        (Decimal("200.00"), None),  # a JSON number, read as written
        ("1e2", "expected an amount in soles, such as 200.00"),
        ("2_00", "expected an amount in soles, such as 200.00"),
        ("\u0662\u0660\u0660", "expected an amount in soles, such as 200.00"),  # Arabic-Indic
        ("\uff12\uff10\uff10", "expected an amount in soles, such as 200.00"),  # full width
        ("+200", "expected an amount in soles, such as 200.00"),
        (" 200.00", "expected an amount in soles, such as 200.00"),
        ("200.00\u00a0", "expected an amount in soles, such as 200.00"),
        ("0200.00", "expected an amount in soles, such as 200.00"),
        ("200,00", "expected an amount in soles, such as 200.00"),
        ("NaN", "expected an amount in soles, such as 200.00"),
        (True, "expected an amount in soles, such as 200.00"),
        (Decimal("1e2"), None),  # 1e2 as a JSON number is 100
        (Decimal("Infinity"), "expected an amount in soles, such as 200.00"),
        ("200.001", "more than 0, at most 10,000, two decimals"),
        ("0", "more than 0, at most 10,000, two decimals"),
        ("10000.01", "more than 0, at most 10,000, two decimals"),
        (Decimal("200.0000000000000001"), "more than 0, at most 10,000, two decimals"),
    ],
)
def test_an_amount_is_plain_digits_or_a_json_number(amount: object, reason: str | None) -> None:
    problem = check_item({**ROW, "amount": amount})
    assert problem == (None if reason is None else ("amount", reason))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("MARÍA ÑAUPARI D'ÁVILA", None),
        ("Jose\u0301 Quispe", None),  # a combining accent after its letter
        ("ANA \U0001f600", None),  # an emoji beside letters is text a pain.001 can carry
        ("   ", "empty: the holder's name is needed"),
        ("\u00a0\u3000", "empty: the holder's name is needed"),
        ("60542601", "expected a name: it has no letter"),
        ("\u0301\u0301", "expected a name: it has no letter"),
        ("A\u0001B", "control characters are not allowed"),
        ("TITULAR\u0085X", "control characters are not allowed"),  # C1
        ("\u00e1\u007f", "control characters are not allowed"),
        ("A\u2028B", "invisible or formatting characters are not allowed"),
        ("\u200b\u200bA", "invisible or formatting characters are not allowed"),
        ("\ufeffANA", "invisible or formatting characters are not allowed"),
        ("MARIA \u202e QUISPE", "invisible or formatting characters are not allowed"),
        ("\ud800X", "expected valid Unicode text"),
        ("N" * 141, "1 to 140 characters"),
    ],
)
def test_a_name_is_text_a_pain001_can_carry(name: str, reason: str | None) -> None:
    problem = check_item({**ROW, "amount": "200.00", "name": name})
    assert problem == (None if reason is None else ("name", reason))
