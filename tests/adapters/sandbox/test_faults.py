"""Faults on demand: configured rates appear, reproducibly, from settings or at run time."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from adapters.osiptel.mock import create_app as osiptel_app
from adapters.reniec.mock import create_app as reniec_app
from adapters.sandbox.settings import SandboxSettings
from adapters.xml import UnsafeXmlError, parse_xml
from tests.fixtures.support import serve_on_loopback

KEY = {"X-Api-Key": "osiptel-sandbox-juntos"}


def lines_url(sandbox: SandboxSettings) -> str:
    dni = sandbox.population.household(1).mother.dni
    return f"/v1/lineas?tipoDocumento=DNI&numeroDocumento={dni}"


async def statuses(http: httpx.AsyncClient, url: str, n: int) -> list[int]:
    return [(await http.get(url, headers=KEY)).status_code for _ in range(n)]


async def test_error_rate_is_honoured_and_reproducible(sandbox: SandboxSettings) -> None:
    app = osiptel_app(sandbox)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://o"
    ) as http:
        put = await http.put("/_admin/faults", json={"error_rate": 0.25, "seed": 42})
        assert put.status_code == 200
        first = await statuses(http, lines_url(sandbox), 800)
        errors = first.count(503)
        assert 200 - 60 < errors < 200 + 60  # 800 x 0.25, within about 4.9 sd
        state = (await http.get("/_admin/faults")).json()
        assert state["counts"]["errors"] == errors
        assert state["counts"]["requests"] == 800

        await http.put("/_admin/faults", json={"error_rate": 0.25, "seed": 42})
        assert await statuses(http, lines_url(sandbox), 800) == first


async def test_malformed_bodies_fail_their_parsers(sandbox: SandboxSettings) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=osiptel_app(sandbox)), base_url="http://o"
    ) as http:
        await http.put("/_admin/faults", json={"malformed_rate": 1.0})
        response = await http.get(lines_url(sandbox), headers=KEY)
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=reniec_app(sandbox)), base_url="http://r"
    ) as http:
        await http.put("/_admin/faults", json={"malformed_rate": 1.0})
        response = await http.post("/ws/ConsultaDni", content=b"<x/>")
        with pytest.raises(UnsafeXmlError):
            parse_xml(response.content)


async def test_timeouts_leave_the_caller_without_answer(sandbox: SandboxSettings) -> None:
    async with serve_on_loopback(osiptel_app(sandbox)) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            await http.put("/_admin/faults", json={"timeout_rate": 1.0, "timeout_seconds": 3})
            with pytest.raises(httpx.ReadTimeout):
                await http.get(lines_url(sandbox), headers=KEY, timeout=0.3)
            await http.put("/_admin/faults", json={})


async def test_latency_is_added(sandbox: SandboxSettings) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=osiptel_app(sandbox)), base_url="http://o"
    ) as http:
        await http.put("/_admin/faults", json={"latency_ms": 80, "jitter_ms": 20})
        started = time.perf_counter()
        assert (await http.get(lines_url(sandbox), headers=KEY)).status_code == 200
        assert time.perf_counter() - started >= 0.08


async def test_invalid_fault_configuration_is_refused(sandbox: SandboxSettings) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=osiptel_app(sandbox)), base_url="http://o"
    ) as http:
        for body in ({"error_rate": 2}, {"error_rate": 0.6, "timeout_rate": 0.6}, {"x": 1}):
            response = await http.put("/_admin/faults", json=body)
            assert response.status_code == 422, body


async def test_faults_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_SANDBOX_FAULTS__OSIPTEL__ERROR_RATE", "1.0")
    sandbox = SandboxSettings()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=osiptel_app(sandbox)), base_url="http://o"
    ) as http:
        assert set(await statuses(http, lines_url(sandbox), 20)) == {503}
