"""Each consumer endpoint end to end: gateway in process, mocks on loopback ports."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapters.sandbox.population import check_digit
from gateway.broker.rules import load_rules, period_end, verdicts
from gateway.partners.models import HealthService
from gateway.settings import REPO_ROOT
from tests.fixtures.gateway import audit_log
from tests.fixtures.partners import Grant, Mocks, purpose

pytestmark = pytest.mark.partner_mocks


async def test_person_answer_holds_only_the_purposes_fields(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult()
    affiliation = await http.get(
        f"/v1/persons/{h.mother.dni}-{h.mother.check_digit}",
        headers=consumer | purpose("affiliation", **{"X-User-Id": "agent-17"}),
    )
    assert affiliation.status_code == 200, affiliation.text
    body = affiliation.json()
    assert (body["service"], body["purpose"], body["legal_basis"]) == (
        "reniec.person",
        "affiliation",
        "du-095-2020-art6",
    )
    assert body["data"] == {
        "dni": h.mother.dni,
        "first_surname": h.mother.first_surname,
        "second_surname": h.mother.second_surname,
        "given_names": h.mother.given_names,
        "address": h.address,
        "place_name": h.district.reniec_label,
        "ubigeo": h.district.inei,
        "restriction": h.mother.restriction,
    }
    contact = await http.get(f"/v1/persons/{h.mother.dni}", headers=consumer | purpose("contact"))
    assert contact.json()["data"] == {"dni": h.mother.dni, "given_names": h.mother.given_names}
    assert "photo" not in affiliation.text

    events = await audit_log(app)
    assert [e["service"] for e in events] == ["reniec.person", "reniec.person"]
    first = events[0]
    assert first["decision"] == "allowed"
    assert first["outcome"] == "ok"
    assert first["user_id"] == "agent-17"
    assert first["legal_basis"] == "du-095-2020-art6"
    assert first["partner"] == "reniec"
    assert first["fields"] == list(body["data"])
    assert len(first["subjects"]) == 1
    assert h.mother.dni not in json.dumps(events, default=str)
    assert events[1]["subjects"] == first["subjects"]  # same person, same pseudonym


async def test_identity_verification_answers_match_without_the_record(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult()
    right = await http.post(
        "/v1/identity-verifications",
        headers=consumer | purpose("affiliation"),
        json={
            "dni": h.mother.dni,
            "given_names": h.mother.given_names.lower(),
            "first_surname": h.mother.first_surname,
            "second_surname": h.mother.second_surname,
            "birth_date": "1990-01-01",
        },
    )
    assert right.status_code == 200, right.text
    assert right.json()["data"] == {
        "match": True,
        "mismatched_fields": [],
        "unverified_fields": ["birth_date"],
    }
    wrong = await http.post(
        "/v1/identity-verifications",
        headers=consumer | purpose("payment"),
        json={
            "dni": h.mother.dni,
            "given_names": "NOBODY",
            "first_surname": h.mother.first_surname,
        },
    )
    assert wrong.json()["data"] == {
        "match": False,
        "mismatched_fields": ["given_names"],
        "unverified_fields": [],
    }
    assert h.mother.second_surname not in wrong.text


async def test_newborns_are_paged_and_projected(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    pop = mocks.population
    start, end = date(2020, 5, 1), date(2020, 5, 31)
    district = pop.household(next(pop.newborns(start, end))).district.inei
    expected = [pop.household(i).child.cui for i in pop.newborns(start, end, [district])]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {
            "born_from": start.isoformat(),
            "born_to": end.isoformat(),
            "ubigeo": district,
            "limit": 2,
        }
        if cursor:
            params["cursor"] = cursor
        page = await http.get(
            "/v1/newborns", params=params, headers=consumer | purpose("affiliation")
        )
        assert page.status_code == 200, page.text
        body = page.json()
        for row in body["data"]:
            assert set(row) == {
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
            }
        seen += [row["cui"] for row in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_phone_lines_for_contact_and_for_affiliation(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult(lines=lambda h: len(h.phone_lines) >= 1)
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


async def test_account_lookup(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> None:
    h = mocks.adult()
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


async def test_health_services_and_verdicts_reveal_no_diagnosis(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> None:
    pop = mocks.population
    h = mocks.adult(
        anaemic=lambda h: any(r.item_code == "D509" for r in pop.health_records(h)),
    )
    await consented(h)
    records = pop.health_records(h)
    services = await http.get(
        f"/v1/children/{h.child.cui}/health-services",
        headers=consumer | purpose("coresponsibility-verification"),
    )
    assert services.status_code == 200, services.text
    rows = services.json()["data"]
    assert [r["item_code"] for r in rows] == [r.item_code for r in records]
    assert all(
        set(r) == {"appointment_id", "service_date", "facility", "item_code", "lab_value"}
        for r in rows
    )

    verdict = await http.get(
        f"/v1/children/{h.child.cui}/coresponsibility",
        params={"period": "2021-02"},
        headers=consumer | purpose("coresponsibility-verification"),
    )
    assert verdict.status_code == 200, verdict.text
    table = load_rules(REPO_ROOT / "contracts" / "policy" / "coresponsibility-rules.yaml")
    expected = verdicts(
        table,
        h.child.birth_date,
        [
            HealthService(
                r.appointment_id,
                r.service_date,
                r.facility,
                r.item_code,
                r.diagnosis_type,
                r.lab_value,
                r.age_value,
                r.age_unit,
                None,
                None,
                None,
            )
            for r in records
        ],
        period_end(2021, 2),
    )
    assert verdict.json()["data"] == expected
    assert {item["verdict"] for item in verdict.json()["data"]} <= {
        "given",
        "missing",
        "not-yet-due",
    }
    assert "D509" not in verdict.text
    assert "hemoglobin" not in verdict.text


async def test_partner_health_is_reported(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], get_token: Any
) -> None:
    h = mocks.adult()
    await http.get(f"/v1/persons/{h.mother.dni}", headers=consumer | purpose("affiliation"))
    await http.get("/v1/persons/00000000", headers=consumer | purpose("affiliation"))
    admin = {"Authorization": f"Bearer {await get_token(['admin'])}"}
    report = (await http.get("/v1/partners", headers=admin)).json()["partners"]
    reniec = report["reniec"]
    assert reniec["breaker"] == "closed"
    stats = reniec["operations"]["consultar"]
    assert stats["successes"] == 2  # a clean "not found" is a healthy answer
    assert stats["last_success_at"] is not None
    assert stats["latency_ms"]["min"] <= stats["latency_ms"]["avg"] <= stats["latency_ms"]["max"]
    assert (await http.get("/v1/partners", headers=consumer)).status_code == 403
    ready = (await http.get("/readyz")).json()
    assert ready["partners"]["reniec"]["breaker"] == "closed"
    metrics = (await http.get("/metrics")).text
    assert (
        'gateway_partner_calls_total{operation="consultar",outcome="ok",partner="reniec"} 2.0'
        in metrics
    )
    assert h.mother.dni not in metrics
