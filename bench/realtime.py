"""Real-time look-ups: direct to the mock agency versus through the gateway.

Starts the four mocks (``juntos-gateway mocks``) and the gateway (``juntos-gateway serve
--no-mocks``, sandbox mode, a fresh SQLite file unless ``--database-url`` is given) as
separate processes, then drives them from this process with an aiohttp client at a fixed
concurrency. For RENIEC (SOAP ``consultar``) and OSIPTEL (lines by DNI) it measures
throughput and p50/p99 latency direct to the mock and through the gateway (token check,
catalog decision, partner call, projection, audit event committed), and prints the
through/direct ratio. At the end it checks that every call through the gateway left an
audit event.

Usage: .venv/bin/python bench/realtime.py [--seconds 5] [--concurrency 32]
       [--database-url URL] [--gateway-workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from adapters.sandbox.settings import SandboxSettings  # noqa: E402
from bench._harness import sandbox_processes  # noqa: E402
from bench._machine import describe  # noqa: E402

SOAP = (
    '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>'
    '<ns2:consultar xmlns:ns2="http://ws.reniec.gob.pe/"><arg0>'
    "<nuDniConsulta>{}</nuDniConsulta><nuDniUsuario>40000001</nuDniUsuario>"
    "<nuRucUsuario>20900000015</nuRucUsuario><password>juntos-sandbox</password>"
    "</arg0></ns2:consultar></S:Body></S:Envelope>"
)


@dataclass
class Result:
    count: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


async def drive(
    session: aiohttp.ClientSession,
    requests: list[dict[str, Any]],
    seconds: float,
    concurrency: int,
) -> Result:
    latencies: list[float] = []
    failures = 0
    first_failure: dict[str, str] = {}
    deadline = time.perf_counter() + seconds
    cursor = 0

    async def worker() -> None:
        nonlocal cursor, failures
        while time.perf_counter() < deadline:
            spec = requests[cursor % len(requests)]
            cursor += 1
            started = time.perf_counter()
            async with session.request(**spec) as response:
                body = await response.read()
                if response.status != 200:
                    failures += 1
                    first_failure.setdefault("answer", f"{response.status} {body[:300]!r}")
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} requests failed; first: {first_failure['answer']}")
    return Result(len(latencies), elapsed, latencies)


async def run(args: argparse.Namespace, env: dict[str, str], gateway: str, var: Path) -> None:
    sandbox = SandboxSettings()
    pop = sandbox.population
    rng = random.Random(7)
    dnis = []
    while len(dnis) < 2000:
        h = pop.household(rng.randrange(pop.size))
        if (pop.as_of - h.mother.birth_date).days > 19 * 365:
            dnis.append(h.mother.dni)
    reniec = f"http://127.0.0.1:{env['GATEWAY_SANDBOX_RENIEC_PORT']}"
    osiptel = f"http://127.0.0.1:{env['GATEWAY_SANDBOX_OSIPTEL_PORT']}"
    clients = json.loads((var / "sandbox-clients.json").read_text())["clients"]
    consumer = next(c for c in clients if c["role"] == "consumer")
    connector = aiohttp.TCPConnector(limit=args.concurrency, limit_per_host=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(
            f"{gateway}/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": consumer["client_id"],
                "client_secret": consumer["client_secret"],
            },
        ) as response:
            token = (await response.json())["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        phases = {
            ("RENIEC consultar", "direct"): [
                {
                    "method": "POST",
                    "url": f"{reniec}/ws/ConsultaDni",
                    "data": SOAP.format(d),
                    "headers": {"Content-Type": "text/xml; charset=utf-8"},
                }
                for d in dnis
            ],
            ("RENIEC consultar", "through"): [
                {
                    "method": "GET",
                    "url": f"{gateway}/v1/persons/{d}",
                    "headers": auth | {"X-Purpose": "affiliation"},
                }
                for d in dnis
            ],
            ("OSIPTEL lines", "direct"): [
                {
                    "method": "GET",
                    "url": f"{osiptel}/v1/lineas",
                    "params": {"tipoDocumento": "DNI", "numeroDocumento": d},
                    "headers": {"X-Api-Key": "osiptel-sandbox-juntos"},
                }
                for d in dnis
            ],
            ("OSIPTEL lines", "through"): [
                {
                    "method": "GET",
                    "url": f"{gateway}/v1/persons/{d}/phone-lines",
                    "headers": auth | {"X-Purpose": "contact"},
                }
                for d in dnis
            ],
        }
        results: dict[tuple[str, str], Result] = {}
        through_calls = 0
        for key, requests in phases.items():
            warm = await drive(session, requests, 1.0, args.concurrency)
            results[key] = await drive(session, requests, args.seconds, args.concurrency)
            if key[1] == "through":
                through_calls += warm.count + results[key].count

    print(f"machine: {describe()}")
    print(
        f"{args.concurrency} concurrent clients, {args.seconds:.0f} s per phase, "
        f"{args.gateway_workers} gateway process(es) on {args.database_url or 'SQLite'}, "
        "mocks in one other process, "
        f"{pop.size} households"
    )
    print(f"{'look-up':<18}{'path':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'through/direct':>16}")
    for (name, path), r in results.items():
        ratio = ""
        if path == "through":
            ratio = f"{r.rate / results[(name, 'direct')].rate:.2f}"
        print(f"{name:<18}{path:<9}{r.rate:>9.0f}{r.pct(0.5):>9.1f}{r.pct(0.99):>9.1f}{ratio:>16}")
    if not args.database_url:
        db = sqlite3.connect(var.parent / "bench.db")
        audited = db.execute(
            "SELECT count(*) FROM audit_events WHERE outcome = 'ok' AND service IN "
            "('reniec.person', 'osiptel.phone-lines')"
        ).fetchone()[0]
        db.close()
        print(f"audit events for calls through the gateway: {audited} of {through_calls}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--gateway-workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        with sandbox_processes(
            var,
            args.database_url or f"sqlite:///{tmp}/bench.db",
            args.gateway_workers,
            rate_limit_per_minute="0",  # the raw path, not one client's quota
        ) as box:
            env_for_run = {k: v for k, v in box.env.items() if k.startswith("GATEWAY_SANDBOX_")}
            asyncio.run(run(args, env_for_run, box.gateway, var))


if __name__ == "__main__":
    main()
