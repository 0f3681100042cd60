"""The gateway wired to the four mocks, each served by uvicorn on its own loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from adapters.bn.mock import BankMock
from adapters.bn.mock import create_app as bn_app
from adapters.minsa_his.mock import create_app as his_app
from adapters.osiptel.mock import create_app as osiptel_app
from adapters.reniec.mock import create_app as reniec_app
from adapters.sandbox.faults import FaultInjector
from adapters.sandbox.population import Household, Population
from adapters.sandbox.settings import SandboxSettings
from gateway.settings import PartnersSettings, Settings
from tests.conftest import GetToken, bearer
from tests.support import start_server

FAST = {
    "read_timeout_seconds": 2.0,
    "retries": 2,
    "backoff_initial_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "breaker_consecutive_failures": 5,
    "breaker_cooldown_seconds": 0.5,
}


@dataclass
class Mocks:
    sandbox: SandboxSettings
    urls: dict[str, str]
    apps: dict[str, FaultInjector]

    @property
    def population(self) -> Population:
        return self.sandbox.population

    @property
    def bank(self) -> BankMock:
        inner: Any = self.apps["bn"].app
        bank: BankMock = inner.state.bank
        return bank

    async def faults(self, partner: str, **config: Any) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.put(f"{self.urls[partner]}/_admin/faults", json=config)
            response.raise_for_status()

    async def requests_seen(self, partner: str) -> int:
        async with httpx.AsyncClient() as http:
            state = (await http.get(f"{self.urls[partner]}/_admin/faults")).json()
        return int(state["counts"].get("requests", 0))

    def adult(self, start: int = 0, *, alive: bool = True, **conditions: Any) -> Household:
        pop = self.population
        for i in range(start, pop.size):
            h = pop.household(i)
            if (pop.as_of - h.mother.birth_date).days < 19 * 365:
                continue
            if alive and h.mother.deceased:
                continue
            if all(check(h) for check in conditions.values()):
                return h
        raise LookupError("no such household")


@pytest.fixture
async def mocks() -> AsyncIterator[Mocks]:
    sandbox = SandboxSettings()
    apps: dict[str, ASGIApp] = {
        "reniec": reniec_app(sandbox),
        "osiptel": osiptel_app(sandbox),
        "bn": bn_app(sandbox),
        "minsa_his": his_app(sandbox),
    }
    servers, tasks, urls = [], [], {}
    for name, app in apps.items():
        server, task, urls[name] = await start_server(app)
        servers.append(server)
        tasks.append(task)
    try:
        yield Mocks(sandbox, urls, apps)  # type: ignore[arg-type]
    finally:
        for s in servers:
            s.should_exit = True
        await asyncio.gather(*tasks)


def partner_settings(mocks: Mocks, **overrides: dict[str, Any]) -> PartnersSettings:
    return PartnersSettings.model_validate(
        {
            name: {"base_url": mocks.urls[name], **FAST, **overrides.get(name, {})}
            for name in ("reniec", "osiptel", "bn", "minsa_his")
        }
    )


@pytest.fixture
def settings(settings: Settings, mocks: Mocks, request: pytest.FixtureRequest) -> Settings:
    """Partner settings aimed at the mocks; a test may override per partner with
    ``@pytest.mark.parametrize("settings", [{"osiptel": {...}}], indirect=True)``."""
    overrides = getattr(request, "param", {})
    return settings.model_copy(update={"partners": partner_settings(mocks, **overrides)})


CONSUMER_PURPOSES = ["affiliation", "contact", "payment", "coresponsibility-verification"]


@pytest.fixture
async def consumer(get_token: GetToken) -> dict[str, str]:
    return bearer(await get_token(["consumer"], CONSUMER_PURPOSES))


def purpose(name: str, **extra: str) -> dict[str, str]:
    return {"X-Purpose": name, **extra}


Grant = Callable[..., Awaitable[str]]


def consent_body(
    h: Household,
    purposes: tuple[str, ...] = ("payment", "coresponsibility-verification"),
    categories: tuple[str, ...] = ("financial", "health"),
    **changes: Any,
) -> dict[str, Any]:
    """The consent a household accepts in the affiliation call, as the API takes it."""
    return {
        "cui": h.child.cui,
        "caregiver_dni": h.mother.dni,
        "purposes": list(purposes),
        "data_categories": list(categories),
        "channel": "phone-call",
        "evidence": {"recording_ref": f"rec-{h.index:08d}", "sha256": "ab" * 32},
        "agent_id": "agent-007",
        **changes,
    }


@pytest.fixture
def consented(http: httpx.AsyncClient, consumer: dict[str, str]) -> Grant:
    """Records, through the API, the consent a household accepts in the affiliation call;
    returns its id."""

    async def grant(
        h: Household,
        purposes: tuple[str, ...] = ("payment", "coresponsibility-verification"),
        categories: tuple[str, ...] = ("financial", "health"),
    ) -> str:
        response = await http.post(
            "/v1/consents",
            headers=consumer | purpose("affiliation"),
            json=consent_body(h, purposes, categories),
        )
        assert response.status_code == 201, response.text
        consent_id: str = response.json()["data"]["id"]
        return consent_id

    return grant
