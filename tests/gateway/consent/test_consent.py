"""The consent registry and consent gating: both ways, audited, revocation immediate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from gateway.consent.models import ConsentRevision
from gateway.core.db import transaction
from tests.fixtures.gateway import GetToken, audit_log, bearer
from tests.fixtures.partners import Grant, Mocks, consent_body, purpose

pytestmark = pytest.mark.partner_mocks

HIS = purpose("coresponsibility-verification")


async def test_health_data_needs_active_consent_and_revocation_is_immediate(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    h = mocks.adult()
    url = f"/v1/children/{h.child.cui}/health-services"

    refused = await http.get(url, headers=consumer | HIS)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "/problems/consent-required"
    assert problem["missing_consent"] == {
        "purpose": "coresponsibility-verification",
        "data_category": "health",
        "subject": "cui",
    }
    assert h.child.cui not in refused.text
    assert await mocks.requests_seen("minsa_his") == 0  # refused before the partner is asked
    # In Spanish, the purpose and the category are quoted as the codes they are.
    spanish = await http.get(url, headers=consumer | HIS | {"Accept-Language": "es"})
    assert spanish.json()["detail"] == (
        "ningún consentimiento vigente cubre la finalidad 'coresponsibility-verification' "
        "para la categoría de datos 'health' de este CUI"
    )

    consent_id = await consented(h)
    allowed = await http.get(url, headers=consumer | HIS)
    assert allowed.status_code == 200, allowed.text

    revoked = await http.post(
        f"/v1/consents/{consent_id}/revocation",
        headers=consumer | purpose("affiliation"),
        json={"reason": "the caregiver withdrew in a follow-up call"},
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["data"]["state"] == "revoked"
    after = await http.get(url, headers=consumer | HIS)
    assert after.status_code == 403
    assert after.json()["type"] == "/problems/consent-required"

    events = [e for e in await audit_log(app) if e["service"] == "minsa_his.health-services"]
    assert [(e["decision"], e["reason"], e["status"]) for e in events] == [
        ("denied", "consent-required", 403),
        ("denied", "consent-required", 403),  # the same refusal, read in Spanish
        ("allowed", None, 200),
        ("denied", "consent-required", 403),
    ]
    assert all(e["legal_basis"] == "consent" for e in events)


async def test_consent_covers_only_its_purposes_and_categories(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> None:
    h = mocks.adult()
    await consented(h, purposes=("payment",), categories=("financial",))
    health = await http.get(f"/v1/children/{h.child.cui}/health-services", headers=consumer | HIS)
    assert health.status_code == 403
    account = await http.post(
        "/v1/accounts",
        headers=consumer | purpose("payment", **{"Idempotency-Key": "consent-scope-1"}),
        json={"dni": h.mother.dni},
    )
    assert account.status_code == 201, account.text
    # The account of another caregiver is not covered by this household's consent.
    other = mocks.adult(h.index + 1)
    refused = await http.get(
        f"/v1/accounts/{other.mother.dni}", headers=consumer | purpose("payment")
    )
    assert refused.json()["type"] == "/problems/consent-required"

    await consented(h, purposes=("coresponsibility-verification",), categories=("financial",))
    still = await http.get(f"/v1/children/{h.child.cui}/health-services", headers=consumer | HIS)
    assert still.status_code == 403  # the purpose matches but the category does not


async def test_consent_record_lifecycle_and_revision_chain(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    h = mocks.adult()
    consent_id = await consented(h)
    affiliation = consumer | purpose("affiliation")
    record = (await http.get(f"/v1/consents/{consent_id}", headers=affiliation)).json()["data"]
    assert record["cui"] == h.child.cui
    assert record["caregiver_dni"] == h.mother.dni
    assert record["state"] == "active"
    assert record["legal_basis"] == "consent"
    assert record["evidence"]["recording_ref"] == f"rec-{h.index:08d}"
    assert record["channel"] == "phone-call"
    assert record["agent_id"] == "agent-007"
    assert [r["revision"] for r in record["revisions"]] == [1]
    assert record["revisions"][0]["prev_hash"] is None
    assert record["chain_intact"] is True

    await http.post(
        f"/v1/consents/{consent_id}/revocation", headers=affiliation, json={"reason": "moved"}
    )
    again = await http.post(
        f"/v1/consents/{consent_id}/revocation", headers=affiliation, json={"reason": "twice"}
    )
    assert again.status_code == 409
    record = (await http.get(f"/v1/consents/{consent_id}", headers=affiliation)).json()["data"]
    first, second = record["revisions"]
    assert (second["action"], second["prev_hash"]) == ("revoked", first["hash"])
    assert record["revocation_reason"] == "moved"
    assert record["chain_intact"] is True

    listed = await http.get("/v1/consents", params={"cui": h.child.cui}, headers=affiliation)
    assert [c["id"] for c in listed.json()["data"]] == [consent_id]
    check = await http.get(
        "/v1/consent-checks",
        params={"cui": h.child.cui, "purpose": "payment"},
        headers=consumer | purpose("payment"),
    )
    assert check.json()["data"] == {"purpose": "payment", "active": False}

    # A rewritten revision breaks the chain.
    async with transaction(app.state.gateway.sessions) as session:
        await session.execute(
            update(ConsentRevision)
            .where(ConsentRevision.consent_id == consent_id, ConsentRevision.revision == 1)
            .values(action="revoked")
        )
    record = (await http.get(f"/v1/consents/{consent_id}", headers=affiliation)).json()["data"]
    assert record["chain_intact"] is False


async def test_expired_consent_no_longer_counts(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult()
    expires = datetime.now(UTC) + timedelta(seconds=1)
    created = await http.post(
        "/v1/consents",
        headers=consumer | purpose("affiliation"),
        json=consent_body(
            h,
            ("coresponsibility-verification",),
            ("health",),
            expires_at=expires.isoformat(),
        ),
    )
    assert created.status_code == 201, created.text
    params = {"cui": h.child.cui, "purpose": "coresponsibility-verification"}
    check = await http.get("/v1/consent-checks", params=params, headers=consumer | HIS)
    assert check.json()["data"]["active"] is True
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)
    check = await http.get("/v1/consent-checks", params=params, headers=consumer | HIS)
    assert check.json()["data"]["active"] is False
    health = await http.get(f"/v1/children/{h.child.cui}/health-services", headers=consumer | HIS)
    assert health.status_code == 403


async def test_consent_input_is_validated_field_by_field(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult()
    good = consent_body(h, ("payment",), ("financial",))
    wrong_check = str((int(h.child.check_digit) + 1) % 10)
    cases = [
        ({"purposes": ["payment", "marketing"]}, "body.purposes[1]"),
        ({"data_categories": ["gossip"]}, "body.data_categories[0]"),
        ({"cui": f"{h.child.cui}-{wrong_check}"}, "body.cui"),
        ({"caregiver_dni": "1234"}, "body.caregiver_dni"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "body.expires_at"),
        ({"evidence": {"recording_ref": "r", "sha256": "nothex"}}, "body.evidence.sha256"),
    ]
    for change, field in cases:
        response = await http.post(
            "/v1/consents", headers=consumer | purpose("affiliation"), json=good | change
        )
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, response.text
        assert h.child.cui not in response.text
        assert h.mother.dni not in response.text
    bad_id = await http.get("/v1/consents/not-an-id", headers=consumer | purpose("affiliation"))
    assert bad_id.status_code == 422
    missing = await http.get(
        "/v1/consents/00000000-0000-4000-8000-000000000000",
        headers=consumer | purpose("affiliation"),
    )
    assert missing.status_code == 404


async def test_who_may_record_consent(
    http: httpx.AsyncClient, mocks: Mocks, get_token: GetToken
) -> None:
    h = mocks.adult()
    body = consent_body(h, ("payment",), ("financial",))
    partner = bearer(await get_token(["partner"], ["affiliation"]))
    created = await http.post("/v1/consents", headers=partner | purpose("affiliation"), json=body)
    assert created.status_code == 201, created.text
    payment_only = bearer(await get_token(["consumer"], ["payment"]))
    refused = await http.post("/v1/consents", headers=payment_only | purpose("payment"), json=body)
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/purpose-not-allowed"
    auditor = bearer(await get_token(["auditor"], ["audit"]))
    refused = await http.post("/v1/consents", headers=auditor | purpose("audit"), json=body)
    assert refused.json()["type"] == "/problems/role-not-granted"


async def test_every_failing_field_of_a_consent_is_named_at_once(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult()
    body = consent_body(
        h,
        purposes=("payment", "nope"),
        categories=("bogus",),
        caregiver_dni="12",
        expires_at="2020-01-01T00:00:00Z",
    )
    affiliation = consumer | purpose("affiliation")
    refused = await http.post("/v1/consents", headers=affiliation, json=body)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == [
        "body.caregiver_dni",
        "body.purposes[1]",
        "body.data_categories[0]",
        "body.expires_at",
    ]
    batch = await http.post(
        "/v1/consent-batches",
        headers=affiliation | {"Idempotency-Key": "every-field-1"},
        json={"consents": [consent_body(h), body | {"cui": "1"}]},
    )
    assert batch.status_code == 422
    assert [e["field"] for e in batch.json()["errors"]] == [
        "body.consents[1].cui",
        "body.consents[1].caregiver_dni",
        "body.consents[1].purposes[1]",
        "body.consents[1].data_categories[0]",
        "body.consents[1].expires_at",
    ]
