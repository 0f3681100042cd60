"""Distribution of pushed data: pull with acknowledgement, signed webhooks with retries
and a dead-letter state, purpose-bound fields, consent-bound rows."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.sandbox.settings import SandboxSettings
from gateway.core.db import transaction
from gateway.subscriptions.models import Delivery
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.support import serve_on_loopback

NDJSON = {"Content-Type": "application/x-ndjson"}


def births(indices: list[int]) -> bytes:
    pop = SandboxSettings().population
    lines = []
    for i in indices:
        h = pop.household(i)
        lines.append(
            {
                "cui": h.child.cui,
                "cnv": h.child.cnv,
                "birth_date": "2020-06-01",
                "sex": "F",
                "ubigeo_reniec": h.district.reniec,
                "mother_dni": h.mother.dni,
            }
        )
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


async def headers(get_token: GetToken, roles: list[str], purpose: str) -> dict[str, str]:
    return bearer(await get_token(roles, [purpose])) | {"X-Purpose": purpose}


async def test_pull_delivers_the_purposes_fields_until_acknowledged(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    program = await headers(get_token, ["consumer"], "affiliation")
    created = await http.post(
        "/v1/subscriptions", json={"feed": "births", "mode": "pull"}, headers=program
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    reniec = await headers(get_token, ["partner"], "affiliation")
    body = births([1, 2, 3]) + b'{"cui": "bad"}\n'
    pushed = await http.post(
        "/v1/inbound/reniec/births", content=body, headers=reniec | NDJSON | {"X-Message-Id": "B1"}
    )
    assert pushed.json()["data"]["rows_accepted"] == 3
    await http.post(  # a resend owes nothing new
        "/v1/inbound/reniec/births", content=body, headers=reniec | NDJSON | {"X-Message-Id": "B1"}
    )
    pulled = (await http.get(f"/v1/subscriptions/{sid}/deliveries", headers=program)).json()
    assert len(pulled["deliveries"]) == 1
    delivery = pulled["deliveries"][0]
    assert len(delivery["rows"]) == 3
    assert set(delivery["rows"][0]) == {
        "cui",
        "cnv",
        "birth_date",
        "sex",
        "ubigeo_inei",
        "mother_dni",
    }
    again = (await http.get(f"/v1/subscriptions/{sid}/deliveries", headers=program)).json()
    assert again["deliveries"][0]["delivery_id"] == delivery["delivery_id"]  # not yet acked
    acked = await http.post(
        f"/v1/subscriptions/{sid}/deliveries/{delivery['delivery_id']}/ack", headers=program
    )
    assert acked.status_code == 200
    empty = (await http.get(f"/v1/subscriptions/{sid}/deliveries", headers=program)).json()
    assert empty["deliveries"] == []
    view = (await http.get(f"/v1/subscriptions/{sid}", headers=program)).json()
    assert view["deliveries"] == {"acknowledged": 1}
    other = await headers(get_token, ["consumer"], "affiliation")
    assert (await http.get(f"/v1/subscriptions/{sid}", headers=other)).status_code == 404
    contact_only = await headers(get_token, ["consumer"], "contact")
    refused = await http.post(
        "/v1/subscriptions", json={"feed": "births", "mode": "pull"}, headers=contact_only
    )
    assert refused.status_code == 403


async def test_health_rows_go_only_for_children_with_consent(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    pop = SandboxSettings().population
    a, b = pop.household(5), pop.household(6)
    program = await headers(get_token, ["consumer"], "coresponsibility-verification")
    sid = (
        await http.post(
            "/v1/subscriptions", json={"feed": "health-records", "mode": "pull"}, headers=program
        )
    ).json()["id"]
    affiliation = await headers(get_token, ["consumer"], "affiliation")
    consent = await http.post(
        "/v1/consents",
        headers=affiliation,
        json={
            "cui": a.child.cui,
            "caregiver_dni": a.mother.dni,
            "purposes": ["coresponsibility-verification"],
            "data_categories": ["health"],
            "evidence": {"recording_ref": "r", "sha256": "ab" * 32},
            "agent_id": "agent-1",
        },
    )
    assert consent.status_code == 201, consent.text
    rows = [
        {"cui": h.child.cui, "appointment_id": f"A{n}", "service_date": "2021-02-01",
         "item_code": "90681", "facility": "00001234", "lab_value": "1"}
        for n, h in enumerate((a, b))
    ]  # fmt: skip
    minsa = await headers(get_token, ["partner"], "coresponsibility-verification")
    await http.post(
        "/v1/inbound/minsa-his/health-records",
        content="".join(json.dumps(r) + "\n" for r in rows).encode(),
        headers=minsa | NDJSON | {"X-Message-Id": "H1"},
    )
    pulled = (await http.get(f"/v1/subscriptions/{sid}/deliveries", headers=program)).json()
    delivery = pulled["deliveries"][0]
    assert [r["cui"] for r in delivery["rows"]] == [a.child.cui]
    assert delivery["withheld_without_consent"] == 1
    assert set(delivery["rows"][0]) == {"cui", "appointment_id", "service_date", "item_code"}


async def test_webhooks_are_signed_retried_and_dead_lettered(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    failures = {"left": 1}

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        if failures["left"] > 0:
            failures["left"] -= 1
            return Response(status_code=500)
        return Response(status_code=204)

    state = app.state.gateway
    program = await headers(get_token, ["consumer"], "affiliation")
    reniec = await headers(get_token, ["partner"], "affiliation")

    async def due_now() -> None:
        async with transaction(state.sessions) as session:
            await session.execute(update(Delivery).values(next_attempt_at=Delivery.created_at))

    async with serve_on_loopback(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        created = (
            await http.post(
                "/v1/subscriptions",
                json={"feed": "births", "mode": "push", "webhook_url": f"{url}/hook"},
                headers=program,
            )
        ).json()
        sid, secret = created["id"], created["secret"]
        await http.post(
            "/v1/inbound/reniec/births",
            content=births([7, 8]),
            headers=reniec | NDJSON | {"X-Message-Id": "B7"},
        )
        assert await state.jobs.dispatch("deliveries") == 1  # first attempt: HTTP 500
        failing = (
            await http.get(
                f"/v1/subscriptions/{sid}/deliveries", params={"state": "pending"}, headers=program
            )
        ).json()
        assert failing["deliveries"][0]["attempts"] == 1
        assert failing["deliveries"][0]["last_error"] == "HTTP 500"
        assert await state.jobs.dispatch("deliveries") == 0  # backing off
        await due_now()
        assert await state.jobs.dispatch("deliveries") == 1
        view = (await http.get(f"/v1/subscriptions/{sid}", headers=program)).json()
        assert view["deliveries"] == {"delivered": 1}
        head, body = received[-1]
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert head["x-juntos-signature"] == f"sha256={expected}"
        assert len(json.loads(body)["rows"]) == 2

        failures["left"] = 100
        state.jobs.dispatched("deliveries").max_attempts = 2
        await http.post(
            "/v1/inbound/reniec/births",
            content=births([9]),
            headers=reniec | NDJSON | {"X-Message-Id": "B9"},
        )
        for _ in range(2):
            await due_now()
            await state.jobs.dispatch("deliveries")
        dead = (
            await http.get(
                f"/v1/subscriptions/{sid}/deliveries", params={"state": "dead"}, headers=program
            )
        ).json()
        assert len(dead["deliveries"]) == 1
        retried = await http.post(
            f"/v1/subscriptions/{sid}/deliveries/{dead['deliveries'][0]['delivery_id']}/retry",
            headers=program,
        )
        assert retried.status_code == 202
        view = (await http.get(f"/v1/subscriptions/{sid}", headers=program)).json()
        assert view["deliveries"] == {"delivered": 1, "pending": 1}
