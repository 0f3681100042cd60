"""Cost of authentication on a running gateway, over real loopback HTTP.

Starts ``juntos-gateway serve`` (sandbox, fresh SQLite file) and drives it with a bounded
number of concurrent requests per phase:

- baseline: ``GET /healthz`` (no auth, no database);
- authenticated: ``GET /v1/services`` (token verification, client look-up, catalog);
- token issuance: ``POST /v1/token`` (Argon2id verification, signing).

Prints requests/s and each phase as a ratio of the baseline measured in the same run.
Usage: .venv/bin/python bench/auth.py [--seconds 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import free_ports  # noqa: E402
from bench._machine import describe  # noqa: E402


async def phase(
    client: aiohttp.ClientSession,
    base: str,
    seconds: float,
    concurrency: int,
    request: dict[str, object],
) -> tuple[float, float]:
    done = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            spec = dict(request)
            async with client.request(
                str(spec.pop("method")),
                base + str(spec.pop("url")),
                **spec,  # type: ignore[arg-type]
            ) as response:
                await response.read()
                response.raise_for_status()
            latencies.append(time.perf_counter() - started)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return done / elapsed, latencies[int(len(latencies) * 0.95)] * 1000


async def run(base: str, creds: dict[str, str], seconds: float, concurrency: int) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        form = {"grant_type": "client_credentials", **creds}
        async with client.post(base + "/v1/token", data=form) as response:
            token = (await response.json())["access_token"]
        phases = {
            "GET /healthz (baseline)": {"method": "GET", "url": "/healthz"},
            "GET /v1/services (bearer)": {
                "method": "GET",
                "url": "/v1/services",
                "headers": {"Authorization": f"Bearer {token}"},
            },
            "POST /v1/token": {"method": "POST", "url": "/v1/token", "data": form},
        }
        results = {}
        for name, request in phases.items():
            await phase(client, base, 0.5, concurrency, request)  # warm-up
            results[name] = await phase(client, base, seconds, concurrency, request)
    baseline = next(iter(results.values()))[0]
    print(f"machine: {describe()}")
    print(f"concurrency {concurrency}, {seconds:.0f} s per phase, one gateway process, SQLite")
    print(f"{'phase':<28}{'req/s':>10}{'p95 ms':>10}{'vs baseline':>14}")
    for name, (rps, p95) in results.items():
        print(f"{name:<28}{rps:>10.0f}{p95:>10.1f}{rps / baseline:>13.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (port,) = free_ports(1)
        env = {
            **os.environ,
            "GATEWAY_ENV": "sandbox",
            "GATEWAY_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "GATEWAY_VAR_DIR": f"{tmp}/var",
            "GATEWAY_PORT": str(port),
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        cli = [sys.executable, "-m", "gateway.cli"]
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
        server = subprocess.Popen([*cli, "serve"], env=env, stdout=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            seeded = json.loads(Path(tmp, "var", "sandbox-clients.json").read_text())["clients"]
            consumer = next(c for c in seeded if c["role"] == "consumer")
            creds = {"client_id": consumer["client_id"], "client_secret": consumer["client_secret"]}
            asyncio.run(run(base, creds, args.seconds, args.concurrency))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
