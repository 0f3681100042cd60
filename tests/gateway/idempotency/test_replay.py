"""A repeated POST with the same Idempotency-Key answers the first answer without calling
the partner again; a POST that needs one is refused without it."""

from __future__ import annotations

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.fixtures.partners import Grant, Mocks, opening, purpose

pytestmark = pytest.mark.partner_mocks


async def test_same_key_same_body_replays_without_calling_the_bank(
    settings: Settings,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    h = mocks.adult()
    await consented(h)
    first = await http.post(
        "/v1/accounts", headers=consumer | opening("key-00000001"), json={"dni": h.mother.dni}
    )
    assert first.status_code == 201, first.text
    calls = await mocks.requests_seen("bn")

    again = await http.post(
        "/v1/accounts", headers=consumer | opening("key-00000001"), json={"dni": h.mother.dni}
    )
    assert (again.status_code, again.json()) == (201, first.json())
    assert await mocks.requests_seen("bn") == calls

    # The key lives in the database: a restarted gateway still replays it.
    restarted = create_app(settings)
    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http2:
            replay = await http2.post(
                "/v1/accounts",
                headers=consumer | opening("key-00000001"),
                json={"dni": h.mother.dni},
            )
    assert replay.json() == first.json()
    assert await mocks.requests_seen("bn") == calls

    other = mocks.adult(h.index + 1)
    await consented(other)
    reused = await http.post(
        "/v1/accounts", headers=consumer | opening("key-00000001"), json={"dni": other.mother.dni}
    )
    assert reused.status_code == 422
    assert reused.json()["type"] == "/problems/idempotency-key-reused"

    second_key = await http.post(
        "/v1/accounts", headers=consumer | opening("key-00000002"), json={"dni": h.mother.dni}
    )
    assert second_key.status_code == 200  # the bank already holds this holder's account
    assert second_key.json()["data"] == first.json()["data"]
    assert len(mocks.bank.accounts) == 1


async def test_idempotency_key_is_required(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> None:
    h = mocks.adult()
    await consented(h)
    response = await http.post(
        "/v1/accounts", headers=consumer | purpose("payment"), json={"dni": h.mother.dni}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.idempotency-key"
    assert await mocks.requests_seen("bn") == 0
