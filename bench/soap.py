"""Cost of one RENIEC ``consultar`` exchange in the gateway: building the request envelope
and reading the answer, through zeep and through the template compiled from the WSDL.

The answer is the RENIEC mock's own ``0000`` for a sandbox mother (with its photo), and
a ``0999``; both readers get the same bytes. zeep's reading includes the well-formedness
check its transport made before it. Prints microseconds per operation and the ratio.

    .venv/bin/python -m bench.soap [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from zeep.wsdl.utils import etree_to_string

from adapters.reniec.client import ReniecAdapter, _unwrap
from adapters.reniec.mock import create_app
from adapters.reniec.settings import ReniecSettings
from adapters.sandbox.settings import SandboxSettings
from adapters.xml import parse_xml
from bench._machine import describe
from gateway.partners.health import PartnerHealth
from gateway.partners.resilience import PartnerGuard

REPO = Path(__file__).resolve().parent.parent
MOTHER = "60542601"  # a mother of the default sandbox population (seed 2020)


def per_call(work: Callable[[], object], n: int) -> float:
    work()
    started = time.perf_counter()
    for _ in range(n):
        work()
    return (time.perf_counter() - started) / n * 1e6


async def mock_answers(envelope: bytes, headers: dict[str, str]) -> list[bytes]:
    transport = httpx.ASGITransport(app=create_app(SandboxSettings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://reniec") as http:
        found = await http.post("/ws/ConsultaDni", content=envelope, headers=headers)
        other = envelope.replace(MOTHER.encode(), b"99999999")
        missing = await http.post("/ws/ConsultaDni", content=other, headers=headers)
    return [found.content, missing.content]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    n = args.calls

    settings = ReniecSettings(base_url="http://reniec")
    guard = PartnerGuard("reniec", settings, PartnerHealth(CollectorRegistry()))
    adapter = ReniecAdapter(settings, httpx.AsyncClient(), guard, REPO / "contracts")
    exchange = adapter.consultar
    binding = adapter.service._binding
    client = adapter.service._client
    operation = binding.get("consultar")
    values = {
        "nuDniConsulta": MOTHER,
        "nuDniUsuario": settings.user_dni,
        "nuRucUsuario": settings.ruc,
        "password": settings.password.get_secret_value(),
    }

    def zeep_build() -> bytes:
        envelope, _ = binding._create("consultar", (), {"arg0": values}, client=client)
        return bytes(etree_to_string(envelope))

    def fast_build() -> bytes:
        return exchange.envelope(values)

    answers = asyncio.run(mock_answers(fast_build(), exchange.headers))

    def zeep_read(content: bytes) -> Callable[[], Any]:
        response = httpx.Response(200, content=content, headers={"Content-Type": "text/xml"})

        def read() -> Any:
            parse_xml(content)
            result = _unwrap(binding.process_reply(client, operation, response))
            data = result.datosPersona
            return (result.coResultado, data.apPrimer if data is not None else None)

        return read

    def fast_read(content: bytes) -> Callable[[], Any]:
        def read() -> Any:
            try:
                return exchange.read(MOTHER, 200, content)
            except Exception as error:  # 0999: the typed error is the result
                return error

        return read

    rows = [("build consultar envelope", per_call(zeep_build, n), per_call(fast_build, n))]
    for label, content in zip(("read 0000 answer", "read 0999 answer"), answers, strict=True):
        rows.append(
            (
                f"{label} ({len(content):,} B)",
                per_call(zeep_read(content), n),
                per_call(fast_read(content), n),
            )
        )
    rows.append(("build + read 0000", rows[0][1] + rows[1][1], rows[0][2] + rows[1][2]))

    print(f"machine: {describe()}")
    print(f"calls: {n:,} per figure")
    print(f"{'operation':<34}{'zeep us':>10}{'fast us':>10}{'zeep/fast':>11}")
    for name, zeep, fast in rows:
        print(f"{name:<34}{zeep:>10.1f}{fast:>10.1f}{zeep / fast:>10.1f}x")


if __name__ == "__main__":
    main()
