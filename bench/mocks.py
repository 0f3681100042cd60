"""Each mock agency's own look-up rate, with no network or HTTP client in the way.

Drives the mocks' ASGI apps directly with pre-built requests for random people of the
population, so the figure is the mock's own time (parsing, population look-up, answer
building). The baseline is a trivial Starlette endpoint run through the same harness in
the same process. Run at two population sizes to show the cost does not grow with size.

Usage: .venv/bin/python bench/mocks.py [--requests 3000] [--sizes 10000 500000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.types import ASGIApp  # noqa: E402

from adapters.bn.mock import create_app as bn_app  # noqa: E402
from adapters.minsa_his.mock import create_app as his_app  # noqa: E402
from adapters.osiptel.mock import create_app as osiptel_app  # noqa: E402
from adapters.reniec.mock import create_app as reniec_app  # noqa: E402
from adapters.sandbox.settings import SandboxSettings  # noqa: E402
from bench._machine import describe  # noqa: E402

Req = tuple[str, str, str, list[tuple[bytes, bytes]], bytes]


async def call(
    app: ASGIApp,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return status


async def rate(app: ASGIApp, requests: list[Req]) -> float:
    for r in requests[:100]:
        await call(app, *r)
    started = time.perf_counter()
    for r in requests:
        status = await call(app, *r)
        assert 200 <= status < 300, (status, r[1])
    return len(requests) / (time.perf_counter() - started)


def scenarios(
    sandbox: SandboxSettings, n: int
) -> dict[str, tuple[Callable[[SandboxSettings], ASGIApp], list[Req]]]:
    pop = sandbox.population
    rng = random.Random(1)
    adults = []
    while len(adults) < n:
        h = pop.household(rng.randrange(pop.size))
        if (pop.as_of - h.mother.birth_date).days > 19 * 365:
            adults.append(h)
    soap = (
        '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>'
        '<ns2:consultar xmlns:ns2="http://ws.reniec.gob.pe/"><arg0>'
        "<nuDniConsulta>{}</nuDniConsulta><nuDniUsuario>40000001</nuDniUsuario>"
        "<nuRucUsuario>20900000015</nuRucUsuario><password>juntos-sandbox</password>"
        "</arg0></ns2:consultar></S:Body></S:Envelope>"
    )
    xml = [(b"content-type", b"text/xml; charset=utf-8")]
    return {
        "RENIEC consultar (SOAP)": (
            reniec_app,
            [
                ("POST", "/ws/ConsultaDni", "", xml, soap.format(h.mother.dni).encode())
                for h in adults
            ],
        ),
        "OSIPTEL lines by DNI": (
            osiptel_app,
            [
                (
                    "GET",
                    "/v1/lineas",
                    f"tipoDocumento=DNI&numeroDocumento={h.mother.dni}",
                    [(b"x-api-key", b"osiptel-sandbox-juntos")],
                    b"",
                )
                for h in adults
            ],
        ),
        "MINSA HIS rows by CUI": (
            his_app,
            [
                (
                    "GET",
                    f"/his/v1/pacientes/{h.child.cui}/atenciones",
                    "",
                    [(b"x-api-key", b"his-sandbox-juntos")],
                    b"",
                )
                for h in adults
            ],
        ),
        "BN account opening": (
            bn_app,
            [
                (
                    "POST",
                    "/cuentas/v1/aperturas",
                    "",
                    [
                        (b"x-api-key", b"bn-sandbox-juntos"),
                        (b"x-request-id", f"b{k}".encode()),
                        (b"content-type", b"application/json"),
                    ],
                    f'{{"tipoDocumento":"DNI","numeroDocumento":"{h.mother.dni}"}}'.encode(),
                )
                for k, h in enumerate(adults)
                if not h.mother.deceased
            ],
        ),
    }


def baseline_app() -> ASGIApp:
    async def fixed(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/", fixed)])


async def main(n: int, sizes: list[int]) -> None:
    base_requests: list[Req] = [("GET", "/", "", [], b"")] * n
    base = await rate(baseline_app(), base_requests)
    print(f"machine: {describe()}")
    print(f"{n} requests per row, in-process ASGI calls, one core")
    print(f"{'mock':<28}{'households':>12}{'look-ups/s':>12}{'us/look-up':>12}{'vs baseline':>13}")
    print(f"{'baseline (fixed JSON)':<28}{'-':>12}{base:>12.0f}{1e6 / base:>12.0f}{1.0:>12.2f}x")
    for size in sizes:
        sandbox = SandboxSettings(size=size)
        for name, (factory, requests) in scenarios(sandbox, n).items():
            r = await rate(factory(sandbox), requests)
            print(f"{name:<28}{size:>12}{r:>12.0f}{1e6 / r:>12.0f}{r / base:>12.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 500_000])
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.sizes))
