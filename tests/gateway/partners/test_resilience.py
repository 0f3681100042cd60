"""Partner failures become typed problems; retries, breaker and bulkhead do their jobs."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from gateway.settings import Settings
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.partners import Mocks, purpose

pytestmark = pytest.mark.partner_mocks

LINES = "/v1/persons/{}/phone-lines"


async def test_transient_errors_are_retried_to_success(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    await mocks.faults("osiptel", error_rate=0.4, seed=5)
    h = mocks.adult()
    for _ in range(10):
        response = await http.get(LINES.format(h.mother.dni), headers=consumer | purpose("contact"))
        assert response.status_code == 200, response.text
    stats = app.state.gateway.partner_health.report()["osiptel"]["operations"]["lines-by-document"]
    assert stats["failures"] > 0
    assert stats["successes"] == 10


@pytest.mark.parametrize(
    ("faults", "status", "problem"),
    [
        ({"error_rate": 1.0}, 503, "partner-unavailable"),
        ({"malformed_rate": 1.0}, 502, "partner-malformed-response"),
        ({"timeout_rate": 1.0, "timeout_seconds": 5}, 504, "partner-timeout"),
    ],
    ids=["unavailable", "malformed", "timeout"],
)
async def test_partner_failures_map_to_problems(
    settings: Settings,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    faults: dict[str, float],
    status: int,
    problem: str,
) -> None:
    settings.partners.osiptel.read_timeout_seconds = 0.3
    await mocks.faults("osiptel", **faults)
    h = mocks.adult()
    response = await http.get(LINES.format(h.mother.dni), headers=consumer | purpose("contact"))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{problem}"
    assert h.mother.dni not in response.text
    assert await mocks.requests_seen("osiptel") == 3  # first try and two retries


async def test_registry_result_codes_map_to_problems(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    pop = mocks.population
    h = mocks.adult()
    unknown = next(f"{n:08d}" for n in range(10**7, 10**8, 7919) if pop.lookup(f"{n:08d}") is None)
    cases = [(unknown, 404, "partner-not-found"), (h.child.cui, 404, "partner-not-found")]
    for dni, status, problem in cases:
        response = await http.get(f"/v1/persons/{dni}", headers=consumer | purpose("affiliation"))
        assert (response.status_code, response.json()["type"]) == (status, f"/problems/{problem}")


@pytest.mark.parametrize(
    "settings",
    [{"reniec": {"password": "wrong"}}],
    indirect=True,
    ids=["bad-credentials"],
)
async def test_refused_credentials_are_a_gateway_side_problem(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult()
    response = await http.get(
        f"/v1/persons/{h.mother.dni}", headers=consumer | purpose("affiliation")
    )
    assert response.status_code == 502
    assert response.json()["type"] == "/problems/partner-refused"
    assert "1001" in response.json()["detail"]


@pytest.mark.parametrize(
    "settings",
    [
        {
            "osiptel": {
                "retries": 0,
                "breaker_consecutive_failures": 3,
                "breaker_cooldown_seconds": 0.4,
            }
        }
    ],
    indirect=True,
    ids=["breaker"],
)
async def test_breaker_opens_fails_fast_and_recovers(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    h = mocks.adult()
    url = LINES.format(h.mother.dni)
    await mocks.faults("osiptel", error_rate=1.0)
    for _ in range(3):
        assert (await http.get(url, headers=consumer | purpose("contact"))).status_code == 503
    seen = await mocks.requests_seen("osiptel")
    fast = await http.get(url, headers=consumer | purpose("contact"))
    assert fast.status_code == 503
    assert fast.json()["type"] == "/problems/partner-circuit-open"
    assert int(fast.headers["retry-after"]) >= 1
    assert await mocks.requests_seen("osiptel") == seen  # the partner was spared
    assert app.state.gateway.partner_health.report()["osiptel"]["breaker"] == "open"

    await mocks.faults("osiptel")  # the partner recovers
    await asyncio.sleep(0.45)
    recovered = await http.get(url, headers=consumer | purpose("contact"))
    assert recovered.status_code == 200, recovered.text
    assert app.state.gateway.partner_health.report()["osiptel"]["breaker"] == "closed"


@pytest.mark.parametrize(
    "settings",
    [{"osiptel": {"max_concurrency": 2, "bulkhead_wait_seconds": 5}}],
    indirect=True,
    ids=["bulkhead"],
)
async def test_bulkhead_caps_calls_in_flight(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    await mocks.faults("osiptel", latency_ms=150)
    h = mocks.adult()
    responses = await asyncio.gather(
        *(
            http.get(LINES.format(h.mother.dni), headers=consumer | purpose("contact"))
            for _ in range(6)
        )
    )
    assert [r.status_code for r in responses] == [200] * 6
    assert app.state.gateway.partner_health.report()["osiptel"]["max_in_flight"] == 2


@pytest.mark.parametrize(
    "settings",
    [{"osiptel": {"max_concurrency": 1, "bulkhead_wait_seconds": 0.1, "retries": 0}}],
    indirect=True,
    ids=["bulkhead-full"],
)
async def test_full_bulkhead_answers_busy(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    await mocks.faults("osiptel", latency_ms=400)
    h = mocks.adult()
    responses = await asyncio.gather(
        *(
            http.get(LINES.format(h.mother.dni), headers=consumer | purpose("contact"))
            for _ in range(3)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 503, 503]
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.json()["type"] == "/problems/partner-busy"
    assert busy.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    "settings",
    [{"osiptel": {"base_url": "http://127.0.0.1:9", "retries": 1}}],
    indirect=True,
    ids=["closed-port"],
)
async def test_unreachable_partner_is_unavailable_not_a_timeout(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], get_token: GetToken
) -> None:
    h = mocks.adult()
    response = await http.get(LINES.format(h.mother.dni), headers=consumer | purpose("contact"))
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "/problems/partner-unavailable"
    # Operators see which address failed and why; the consumer's answer names neither.
    admin = bearer(await get_token(["admin"]))
    osiptel = (await http.get("/v1/partners", headers=admin)).json()["partners"]["osiptel"]
    assert osiptel["address"] == "http://127.0.0.1:9"
    (stats,) = osiptel["operations"].values()
    assert (stats["last_error"], stats["last_error_cause"]) == (
        "partner-unavailable",
        "connection refused",
    )
    assert "127.0.0.1:9" not in response.text
