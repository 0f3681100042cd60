"""Operations surface: health, readiness, metrics, request ids, logs, problem documents."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.core.logging import configure_logging
from gateway.settings import Settings
from tests.fixtures.gateway import GetToken, bearer


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["catalog"]["services"] >= 10


# The unreachable database is SQLite's: aiosqlite's worker thread of a failed connection
# may hand its result back after this test's event loop has closed, which pytest reports
# as an unhandled thread exception at teardown. It says nothing about the gateway.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_readyz_is_503_with_details_when_database_is_unreachable(
    settings: Settings,
) -> None:
    broken = settings.model_copy(
        update={"database_url": "sqlite:////nonexistent-dir/for/sure/gateway.db"}
    )
    app = create_app(broken)  # no lifespan: the database is unreachable from the start
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["checks"]["database"]["status"] == "fail"
        assert problem["checks"]["catalog"]["status"] == "ok"
        # A failure inside a request becomes a 500 problem, never a bare error page.
        failed = await http.post(
            "/v1/token",
            data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"},
        )
        assert failed.status_code == 500
        assert failed.headers["content-type"] == "application/problem+json"
        assert failed.json()["type"] == "/problems/internal-error"
        assert failed.json()["request_id"] == failed.headers["x-request-id"]
    await app.state.gateway.aclose()


async def test_request_id_is_echoed_when_sane_and_replaced_otherwise(
    http: httpx.AsyncClient,
) -> None:
    sane = await http.get("/healthz", headers={"X-Request-Id": "batch-2020.12:0001"})
    assert sane.headers["x-request-id"] == "batch-2020.12:0001"
    for bad in ["<script>", "x" * 200, "a b", ""]:
        response = await http.get("/healthz", headers={"X-Request-Id": bad})
        assert response.headers["x-request-id"] != bad
        assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["x-request-id"])


async def test_errors_are_problem_documents(http: httpx.AsyncClient, get_token: GetToken) -> None:
    missing = await http.get("/v1/does-not-exist")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert set(missing.json()) >= {"type", "title", "status", "detail"}

    wrong_method = await http.delete("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"

    admin = await get_token(["admin"])
    invalid = await http.post(
        "/v1/clients", headers=bearer(admin), json={"roles": "consumer", "colour": "red"}
    )
    assert invalid.status_code == 422
    problem = invalid.json()
    assert problem["type"] == "/problems/validation-error"
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"body.name", "body.roles", "body.colour"}

    documented = await http.get(problem["type"])
    assert documented.status_code == 200
    assert documented.json()["status"] == 422


async def test_metrics_count_requests_by_route_template(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    token = await get_token(["consumer"], ["contact"])
    await http.get("/v1/services", headers=bearer(token))
    await http.get("/v1/unknown/45612378")  # unknown route with a DNI-shaped segment
    text = (await http.get("/metrics")).text
    assert 'gateway_http_requests_total{method="GET",route="/v1/services",status="200"} 1.0' in (
        text
    )
    assert 'gateway_http_request_duration_seconds_bucket{le="0.005",method="GET"' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "45612378" not in text


async def test_logs_are_json_with_request_fields_and_no_identifiers(
    app: FastAPI,
    http: httpx.AsyncClient,
    get_token: GetToken,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json=True)
    token = await get_token(["consumer"], ["contact"])
    capsys.readouterr()
    await http.get("/v1/services", headers=bearer(token) | {"X-Request-Id": "req-42"})
    await http.get("/v1/persons/45612378/phone-lines", headers=bearer(token))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    access = [line for line in lines if line["event"] == "request"]
    first = access[0]
    assert first["request_id"] == "req-42"
    assert first["route"] == "/v1/services"
    assert first["status"] == 200
    assert first["client_id"].startswith("cl_")
    assert isinstance(first["latency_ms"], float)
    assert all("45612378" not in json.dumps(line) for line in lines)
