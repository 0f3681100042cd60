"""Every catalog-governed endpoint x every role x every purpose: allowed exactly where the
catalog allows the role and the purpose for that endpoint's service, refused with 403
everywhere else, and every refusal written to the audit log."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audit.store import recent
from gateway.core.db import transaction
from tests.fixtures.gateway import MakeClient, bearer
from tests.fixtures.partners import Mocks

pytestmark = pytest.mark.partner_mocks

ROLES = ("consumer", "partner", "auditor", "admin")
DENIALS = {"/problems/role-not-granted", "/problems/purpose-not-allowed"}


def endpoints(mocks: Mocks) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(service, method, url, request options): a valid request to each endpoint."""
    h = mocks.adult(0)
    dni, cui = h.mother.dni, h.child.cui
    run = "00000000-0000-0000-0000-000000000000"
    xml = {"Content-Type": "application/xml", "X-Message-Id": "M-1"}
    ndjson = {"Content-Type": "application/x-ndjson", "X-Message-Id": "M-1"}
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    consent = {
        "cui": cui,
        "caregiver_dni": dni,
        "purposes": ["payment"],
        "data_categories": ["financial"],
        "channel": "phone-call",
        "evidence": {"recording_ref": "rec-m", "sha256": "ab" * 32},
        "agent_id": "agent-m",
    }
    return [
        ("reniec.person", "GET", f"/v1/persons/{dni}", {}),
        (
            "reniec.identity-verification",
            "POST",
            "/v1/identity-verifications",
            {"json": {"dni": dni, "given_names": h.mother.given_names}},
        ),
        (
            "reniec.newborns",
            "GET",
            "/v1/newborns?born_from=2020-05-01&born_to=2020-05-02",
            {},
        ),
        ("osiptel.phone-lines", "GET", f"/v1/persons/{dni}/phone-lines", {}),
        (
            "bn.account-opening",
            "POST",
            "/v1/accounts",
            {"json": {"dni": dni}, "headers": {"Idempotency-Key": "matrix-1"}},
        ),
        ("bn.account", "GET", f"/v1/accounts/{dni}", {}),
        (
            "bn.payments",
            "POST",
            "/v1/payment-runs",
            {
                "json": {
                    "run_ref": "MATRIX-1",
                    "requested_date": tomorrow,
                    "transfers": [
                        {
                            "end_to_end_id": "MATRIX-1-1",
                            "dni": dni,
                            "cci": "0" * 20,
                            "amount": "200.00",
                            "name": "X",
                        }
                    ],
                }
            },
        ),
        (
            "smsc.reminders",
            "POST",
            "/v1/reminders",
            {
                "json": {
                    "batch_ref": "MATRIX-1",
                    "reminders": [{"reminder_key": "matrix-1", "dni": dni, "phone": "987654321"}],
                }
            },
        ),
        ("smsc.reminders", "GET", "/v1/reminders/MATRIX-unknown", {}),
        ("minsa_his.health-services", "GET", f"/v1/children/{cui}/health-services", {}),
        (
            "minsa_his.coresponsibility",
            "GET",
            f"/v1/children/{cui}/coresponsibility?period=2021-01",
            {},
        ),
        ("osiptel.phone-lines", "POST", "/v1/phone-line-lookups", {"json": {"dnis": [dni]}}),
        (
            "bn.account-opening",
            "POST",
            "/v1/account-openings",
            {"json": {"holders": [{"dni": dni}]}, "headers": {"Idempotency-Key": "matrix-2"}},
        ),
        (
            "minsa_his.coresponsibility",
            "POST",
            "/v1/coresponsibility-verdicts",
            {"json": {"period": "2021-01", "cuis": [cui]}},
        ),
        (
            "gateway.consents",
            "POST",
            "/v1/consent-batches",
            {"json": {"consents": [consent]}, "headers": {"Idempotency-Key": "matrix-3"}},
        ),
        ("gateway.audit-events", "GET", "/v1/audit/events?limit=1", {}),
        ("gateway.audit-verification", "GET", "/v1/audit/verify?to_seq=1", {}),
        ("gateway.audit-checkpoints", "GET", "/v1/audit/checkpoints", {}),
        (
            "gateway.consents",
            "POST",
            "/v1/consents",
            {"json": consent},
        ),
        ("gateway.consent-check", "GET", f"/v1/consent-checks?cui={cui}&purpose=payment", {}),
        ("gateway.subject-disclosures", "GET", f"/v1/subjects/{dni}/disclosures", {}),
        (
            "reniec.birth-events",
            "POST",
            "/v1/inbound/reniec/births",
            {"content": b"", "headers": ndjson},
        ),
        (
            "minsa_his.records-push",
            "POST",
            "/v1/inbound/minsa-his/health-records",
            {"content": b"", "headers": ndjson},
        ),
        (
            "osiptel.line-changes",
            "POST",
            "/v1/inbound/osiptel/line-changes",
            {"content": b"", "headers": ndjson},
        ),
        (
            "bn.payment-status",
            "POST",
            "/v1/inbound/bn/payment-status",
            {"content": b"<Document/>", "headers": xml},
        ),
        (
            "bn.settlements",
            "POST",
            "/v1/inbound/bn/settlements",
            {"content": b"<Document/>", "headers": xml},
        ),
        (
            "reniec.birth-notices",
            "POST",
            "/v1/subscriptions",
            {"json": {"feed": "births", "mode": "pull"}},
        ),
        (
            "minsa_his.record-notices",
            "POST",
            "/v1/subscriptions",
            {"json": {"feed": "health-records", "mode": "pull"}},
        ),
        (
            "osiptel.line-notices",
            "POST",
            "/v1/subscriptions",
            {"json": {"feed": "line-changes", "mode": "pull"}},
        ),
        (
            "reniec.newborns",
            "GET",
            f"/v1/exchanges/reniec-newborns/runs/{run}/records",
            {},
        ),
        (
            "minsa_his.health-extract",
            "GET",
            f"/v1/exchanges/minsa-his-extract/runs/{run}/records",
            {},
        ),
        ("osiptel.lines-refresh", "GET", f"/v1/exchanges/osiptel-refresh/runs/{run}/records", {}),
        ("bn.reconciliation", "GET", f"/v1/exchanges/bn-reconciliation/runs/{run}/records", {}),
        ("bn.card-deliveries", "GET", f"/v1/exchanges/bn-card-deliveries/runs/{run}/records", {}),
    ]


async def test_every_endpoint_role_and_purpose(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, make_client: MakeClient
) -> None:
    catalog = app.state.gateway.catalog
    table = endpoints(mocks)
    assert {service for service, *_ in table} == set(catalog.services)  # nothing left out
    expected_denials: set[tuple[str, str]] = set()
    cells = allowed_cells = 0
    for role in ROLES:
        for purpose in catalog.purposes:
            creds = await make_client([role], [purpose])
            answer = await http.post(
                "/v1/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": creds.client_id,
                    "client_secret": creds.client_secret,
                },
            )
            headers = bearer(answer.json()["access_token"]) | {"X-Purpose": purpose}
            for service_id, method, url, options in table:
                service = catalog.services[service_id]
                allowed = role in service.roles and purpose in service.purposes
                request_headers = headers | options.get("headers", {})
                kwargs = {k: v for k, v in options.items() if k != "headers"}
                response = await http.request(method, url, headers=request_headers, **kwargs)
                cells += 1
                where = (role, purpose, method, url, response.status_code, response.text[:200])
                assert response.status_code < 500, where
                kind = response.json().get("type") if response.status_code == 403 else None
                if allowed:
                    allowed_cells += 1
                    assert kind not in DENIALS, where
                else:
                    assert response.status_code == 403, where
                    assert kind in DENIALS, where
                    expected_denials.add((creds.client_id, service_id))
    assert cells == len(ROLES) * len(catalog.purposes) * len(table)
    assert 0 < allowed_cells < cells
    print(f"access matrix: {cells} cells, {allowed_cells} allowed, {len(expected_denials)} denied")

    async with transaction(app.state.gateway.sessions) as session:
        events = await recent(session, 100_000)
    audited = {
        (e["client_id"], e["service"])
        for e in events
        if e["decision"] == "denied" and e["reason"] in ("role-not-granted", "purpose-not-allowed")
    }
    assert expected_denials <= audited
