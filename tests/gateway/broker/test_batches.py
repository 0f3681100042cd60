"""Batch endpoints: each entry answered as its single call would answer it, consent and
projection per household, one partner request, whole-body validation, no repeats."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from adapters.sandbox.population import Household
from tests.fixtures.gateway import audit_log
from tests.fixtures.partners import Grant, Mocks, consent_body, purpose

pytestmark = pytest.mark.partner_mocks


def adults(mocks: Mocks, n: int, **conditions: Any) -> list[Household]:
    out: list[Household] = []
    start = 0
    while len(out) < n:
        h = mocks.adult(start, **conditions)
        out.append(h)
        start = h.index + 1
    return out


async def test_phone_line_lookups_answer_each_dni_as_the_single_call(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    households = adults(mocks, 4)
    dnis = [h.mother.dni for h in households] + ["00000019"]  # nobody: no lines
    seen = await mocks.requests_seen("osiptel")
    batch = await http.post(
        "/v1/phone-line-lookups", headers=consumer | purpose("contact"), json={"dnis": dnis}
    )
    assert batch.status_code == 200, batch.text
    assert await mocks.requests_seen("osiptel") == seen + 1  # one partner request for all
    data = batch.json()["data"]
    assert [entry["dni"] for entry in data] == dnis
    for dni, entry in zip(dnis, data, strict=True):
        single = await http.get(
            f"/v1/persons/{dni}/phone-lines", headers=consumer | purpose("contact")
        )
        assert entry["lines"] == single.json()["data"]
    assert data[-1]["lines"] == []
    assert any(entry["lines"] for entry in data)

    # The affiliation purpose sees operator and modality only, as with the single call.
    narrow = await http.post(
        "/v1/phone-line-lookups", headers=consumer | purpose("affiliation"), json={"dnis": dnis}
    )
    assert all(
        set(line) == {"operator", "modality"} for e in narrow.json()["data"] for line in e["lines"]
    )

    # One event for the batch, naming every household whose lines were disclosed.
    event = next(e for e in await audit_log(app) if e["service"] == "osiptel.phone-lines")
    pseudonyms = app.state.gateway.pseudonyms
    assert set(event["subjects"]) >= {pseudonyms.of("dni", dni) for dni in dnis}


async def test_a_malformed_entry_refuses_the_batch_naming_it(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult()
    seen = await mocks.requests_seen("osiptel")
    refused = await http.post(
        "/v1/phone-line-lookups",
        headers=consumer | purpose("contact"),
        json={"dnis": [h.mother.dni, "1234", h.mother.dni, "abc", f"{h.mother.dni}-X"]},
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    # Every bad entry at once, so that the caller fixes them in one round.
    assert [e["field"] for e in refused.json()["errors"]] == [
        "body.dnis[1]",
        "body.dnis[3]",
        "body.dnis[4]",
    ]
    assert h.mother.dni not in refused.text
    assert await mocks.requests_seen("osiptel") == seen
    too_many = await http.post(
        "/v1/phone-line-lookups",
        headers=consumer | purpose("contact"),
        json={"dnis": [h.mother.dni] * 1001},
    )
    assert too_many.status_code == 422


async def test_consent_batches_record_all_once(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    households = adults(mocks, 3)
    body = {"consents": [consent_body(h) for h in households]}
    headers = consumer | purpose("affiliation", **{"Idempotency-Key": "consents-0001"})

    keyless = await http.post(
        "/v1/consent-batches", headers=consumer | purpose("affiliation"), json=body
    )
    assert keyless.status_code == 422
    assert keyless.json()["errors"][0]["field"] == "header.idempotency-key"

    bad = {"consents": [consent_body(households[0]), consent_body(households[1], cui="12")]}
    malformed = await http.post("/v1/consent-batches", headers=headers, json=bad)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "body.consents[1].cui"

    first = await http.post("/v1/consent-batches", headers=headers, json=body)
    assert first.status_code == 201, first.text
    records = first.json()["data"]
    assert [r["cui"] for r in records] == [h.child.cui for h in households]
    assert all(r["state"] == "active" for r in records)

    again = await http.post("/v1/consent-batches", headers=headers, json=body)
    assert (again.status_code, again.json()) == (201, first.json())
    for h, record in zip(households, records, strict=True):
        listed = await http.get(
            "/v1/consents", params={"cui": h.child.cui}, headers=consumer | purpose("affiliation")
        )
        assert [c["id"] for c in listed.json()["data"]] == [record["id"]]  # recorded once


async def test_account_openings_per_holder_consent_and_no_second_opening(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    with_consent = adults(mocks, 2)
    without = mocks.adult(with_consent[-1].index + 1)
    deceased = mocks.adult(alive=False, dead=lambda h: h.mother.deceased)
    for h in (*with_consent, deceased):
        await consented(h)
    holders = [{"dni": h.mother.dni} for h in (*with_consent, without, deceased)]
    headers = consumer | purpose("payment", **{"Idempotency-Key": "openings-0001"})
    seen = await mocks.requests_seen("bn")

    first = await http.post("/v1/account-openings", headers=headers, json={"holders": holders})
    assert first.status_code == 200, first.text
    assert await mocks.requests_seen("bn") == seen + 1
    data = first.json()["data"]
    assert [e.get("status") for e in data] == [201, 201, 403, 422]
    assert data[2]["error"] == "consent-required"
    assert (data[3]["error"], data[3]["bank_code"]) == (
        "partner-invalid-input",
        "TITULAR_FALLECIDO",
    )
    assert set(data[0]["account"]) == {"dni", "account_number", "cci", "status", "opened_at"}
    assert set(mocks.bank.accounts) == {h.mother.dni for h in with_consent}

    again = await http.post("/v1/account-openings", headers=headers, json={"holders": holders})
    assert again.json() == first.json()
    assert await mocks.requests_seen("bn") == seen + 1  # replayed, the bank not asked

    other_key = consumer | purpose("payment", **{"Idempotency-Key": "openings-0002"})
    reopened = await http.post(
        "/v1/account-openings", headers=other_key, json={"holders": holders[:1]}
    )
    assert reopened.json()["data"][0]["status"] == 200  # the bank already had it
    assert reopened.json()["data"][0]["account"] == data[0]["account"]
    assert len(mocks.bank.accounts) == 2

    # The holder without consent is not among the subjects of the event: nothing of theirs
    # was disclosed; the event says some were refused.
    event = next(
        e for e in await audit_log(app) if e["request_id"] == first.headers["x-request-id"]
    )
    pseudonyms = app.state.gateway.pseudonyms
    assert pseudonyms.of("dni", without.mother.dni) not in event["subjects"]
    assert pseudonyms.of("dni", with_consent[0].mother.dni) in event["subjects"]
    assert (event["outcome"], event["reason"]) == ("partial", "consent-required")


async def test_coresponsibility_verdicts_match_the_single_call(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> None:
    households = adults(mocks, 3)
    for h in households[:2]:
        await consented(h)
    cuis = [h.child.cui for h in households]
    batch = await http.post(
        "/v1/coresponsibility-verdicts",
        headers=consumer | purpose("coresponsibility-verification"),
        json={"period": "2021-02", "cuis": cuis},
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["period"] == "2021-02"
    data = batch.json()["data"]
    for h, entry in zip(households[:2], data, strict=False):
        single = await http.get(
            f"/v1/children/{h.child.cui}/coresponsibility",
            params={"period": "2021-02"},
            headers=consumer | purpose("coresponsibility-verification"),
        )
        assert entry == {"cui": h.child.cui, "verdicts": single.json()["data"]}
    assert data[2] == {"cui": cuis[2], "status": 403, "error": "consent-required"}

    bad_period = await http.post(
        "/v1/coresponsibility-verdicts",
        headers=consumer | purpose("coresponsibility-verification"),
        json={"period": "2021-13", "cuis": cuis},
    )
    assert bad_period.status_code == 422
    assert bad_period.json()["errors"][0]["field"] == "body.period"
    bad_cuis = await http.post(
        "/v1/coresponsibility-verdicts",
        headers=consumer | purpose("coresponsibility-verification"),
        json={"period": "2021-02", "cuis": [cuis[0], "abc", "123"]},
    )
    assert [e["field"] for e in bad_cuis.json()["errors"]] == ["body.cuis[1]", "body.cuis[2]"]
