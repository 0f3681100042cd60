"""Opening accounts: idempotent by key, retried through faults, never opened twice."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.partners import Grant, Mocks, opening

pytestmark = pytest.mark.partner_mocks


@pytest.mark.parametrize(
    "settings",
    [{"bn": {"retries": 6, "breaker_failure_rate": 0.95, "breaker_consecutive_failures": 20}}],
    indirect=True,
    ids=["tolerant-breaker"],
)
async def test_lost_answers_are_retried_without_opening_twice(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    # Many of the bank's answers are garbled after the bank has acted: the worst case for
    # duplicates. Retries must recover and the bank must end with one account per holder.
    await mocks.faults("bn", malformed_rate=0.4, error_rate=0.1, seed=11)
    holders = []
    start = 0
    for k in range(8):
        h = mocks.adult(start)
        start = h.index + 1
        holders.append(h)
        await consented(h)
        response = await http.post(
            "/v1/accounts",
            headers=consumer | opening(f"retry-key-{k:04d}"),
            json={"dni": h.mother.dni},
        )
        assert response.status_code in (200, 201), response.text
    bank = mocks.bank
    assert sorted(bank.accounts) == sorted(h.mother.dni for h in holders)
    assert len(bank.opening_requests) == len(holders)
    assert await mocks.requests_seen("bn") > len(holders)  # retries did happen
    stats = app.state.gateway.partner_health.report()["bn"]["operations"]["open-account"]
    assert stats["failures"] > 0
    assert stats["successes"] == len(holders)


async def test_deceased_holder_is_refused_by_the_bank(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> None:
    pop = mocks.population
    dead = next(pop.household(i) for i in range(pop.size) if pop.household(i).mother.deceased)
    await consented(dead)
    response = await http.post(
        "/v1/accounts", headers=consumer | opening("dead-key-0001"), json={"dni": dead.mother.dni}
    )
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/partner-invalid-input"
    assert "TITULAR_FALLECIDO" in response.json()["detail"]
    assert dead.mother.dni not in response.text
    # The claim was released: the caller may retry with the same key.
    retry = await http.post(
        "/v1/accounts", headers=consumer | opening("dead-key-0001"), json={"dni": dead.mother.dni}
    )
    assert retry.status_code == 422
    assert retry.json()["type"] == "/problems/partner-invalid-input"


@pytest.mark.parametrize(
    "settings", [{"bn": {"read_timeout_seconds": 10.0}}], indirect=True, ids=["slow-bank"]
)
async def test_retries_while_the_bank_is_slow_wait_for_the_first_answer(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> None:
    # A client library retrying on its own timeout: five sends of one request, 0.4 s
    # apart, while the bank takes 3 s to open the account.
    h = mocks.adult()
    await consented(h)
    await mocks.faults("bn", latency_ms=3000)

    async def send(n: int) -> httpx.Response:
        await asyncio.sleep(0.4 * n)
        return await http.post(
            "/v1/accounts", headers=consumer | opening("slow-key-0001"), json={"dni": h.mother.dni}
        )

    answers = await asyncio.gather(*(send(n) for n in range(5)))
    first, *retries = answers
    assert first.status_code == 201, first.text
    for retry in retries:
        if retry.status_code == 409:
            assert retry.headers["content-type"].startswith("application/problem+json")
            assert retry.json()["type"] == "/problems/idempotency-in-progress"
            assert int(retry.headers["Retry-After"]) >= 1
        else:  # the first answer, once it is there
            assert (retry.status_code, retry.json()) == (201, first.json()), retry.text
    assert [r.status_code for r in retries].count(409) >= 3
    await mocks.faults("bn")
    later = await http.post(
        "/v1/accounts", headers=consumer | opening("slow-key-0001"), json={"dni": h.mother.dni}
    )
    assert (later.status_code, later.json()) == (201, first.json())
    assert len(mocks.bank.opening_requests) == 1
