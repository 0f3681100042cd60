"""The look-up lane (``gateway.broker.lane``) answers as FastAPI's routes do: the same
requests, sent through the lane and then through FastAPI (an app with a dependency
override never takes the lane), get the same status, problem document, challenge
headers and audit events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.core.limits import no_control_characters
from tests.fixtures.gateway import audit_log
from tests.fixtures.partners import Mocks

pytestmark = pytest.mark.partner_mocks

# What an audit event says of a call, leaving out what differs between two runs of it.
EVENT_FIELDS = (
    "client_id",
    "user_id",
    "roles",
    "service",
    "purpose",
    "legal_basis",
    "partner",
    "operation",
    "decision",
    "outcome",
    "reason",
    "status",
    "fields",
    "subjects",
    "response_digest",
    "response_bytes",
)
HEADERS = ("content-type", "www-authenticate", "retry-after", "allow")


def _cases(dni: str, check: str, token: str) -> list[tuple[str, str, dict[str, str]]]:
    auth = {"Authorization": f"Bearer {token}"}
    contact = auth | {"X-Purpose": "contact"}
    return [
        ("GET", f"/v1/persons/{dni}-{check}", auth | {"X-Purpose": "affiliation"}),
        ("GET", f"/v1/persons/{dni}", contact | {"X-User-Id": "agent-17"}),
        ("GET", f"/v1/persons/{dni}/phone-lines", contact),
        ("GET", f"/v1/persons/{dni}/phone-lines?extra=1", contact),
        ("GET", f"/v1/persons/{dni}-{'A' if check != 'A' else 'B'}", contact),
        ("GET", "/v1/persons/12345", contact),
        ("GET", "/v1/persons/00000000", contact),
        ("GET", f"/v1/persons/{dni}/phone-lines", contact | {"X-Purpose": "payment"}),
        ("GET", f"/v1/persons/{dni}", {"X-Purpose": "contact"}),
        ("GET", f"/v1/persons/{dni}", {"Authorization": "Bearer nope", "X-Purpose": "contact"}),
        ("GET", f"/v1/persons/{dni}", {"Authorization": "Basic x", "X-Purpose": "contact"}),
        ("GET", f"/v1/persons/{dni}", auth),
        ("GET", f"/v1/persons/{dni}", auth | {"X-Purpose": "Not A Purpose"}),
        ("GET", f"/v1/persons/{dni}", contact | {"X-User-Id": "spaces are refused"}),
        ("GET", f"/v1/persons/{dni}", contact | {"X-User-Id": ""}),
        ("GET", "/v1/persons/4000%01001", contact),
        ("GET", f"/v1/persons/{dni}/", contact),
        ("HEAD", f"/v1/persons/{dni}", contact),
        ("POST", f"/v1/persons/{dni}", contact),
    ]


def _answer(response: httpx.Response) -> dict[str, Any]:
    request_id = response.headers.get("x-request-id", "")
    body: Any = response.content
    if response.content and "json" in response.headers.get("content-type", ""):
        body = {k: v for k, v in response.json().items() if v != request_id}
    return {
        "status": response.status_code,
        "headers": {name: response.headers.get(name) for name in HEADERS},
        "location": response.headers.get("location"),
        "body": body,
    }


async def _run(
    app: FastAPI, http: httpx.AsyncClient, cases: list[tuple[str, str, dict[str, str]]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    before = len(await audit_log(app))
    answers = [_answer(await http.request(m, url, headers=h)) for m, url, h in cases]
    events = (await audit_log(app))[before:]
    return answers, [{k: e.get(k) for k in EVENT_FIELDS} for e in events]


async def test_the_lane_answers_as_fastapi_does(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult()
    token = consumer["Authorization"].split(" ", 1)[1]
    cases = _cases(h.mother.dni, h.mother.check_digit, token)
    through_lane = await _run(app, http, cases)
    app.dependency_overrides[no_control_characters] = no_control_characters  # no lane
    try:
        through_fastapi = await _run(app, http, cases)
    finally:
        app.dependency_overrides.clear()
    for case, lane, fastapi in zip(cases, through_lane[0], through_fastapi[0], strict=True):
        assert lane == fastapi, case
    assert through_lane[1] == through_fastapi[1]
    statuses = [a["status"] for a in through_lane[0]]
    # The cases cover answers, refusals by the lane's own checks and by FastAPI's.
    assert {200, 401, 403, 404, 405, 422} <= set(statuses), statuses
    assert len(through_lane[1]) >= 6  # the audited ones left their events


async def test_the_lane_keeps_the_request_context(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult()
    response = await http.get(
        f"/v1/persons/{h.mother.dni}/phone-lines",
        headers=consumer | {"X-Purpose": "contact", "X-Request-Id": "lane-check-1"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "lane-check-1"
    (event,) = (await audit_log(app))[-1:]
    assert event["request_id"] == "lane-check-1"
    metrics = (await http.get("/metrics")).text
    assert 'route="/v1/persons/{dni}/phone-lines",status="200"' in metrics
