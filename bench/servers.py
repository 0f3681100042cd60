"""The gateway under uvicorn (``juntos-gateway serve``) against the same app under
granian, one process each on one SQLite database, OSIPTEL look-ups through each in
alternating slices at 32 concurrent clients: req/s, p50 and CPU time per call.

granian is not a dependency of the gateway: install it into the venv to run this
(``.venv/bin/pip install granian``); without it the bench says so and stops.

Usage: .venv/bin/python bench/servers.py [--seconds 6] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from adapters.sandbox.settings import SandboxSettings  # noqa: E402
from bench._harness import Sandbox, free_ports, sandbox_processes, wait_until_up  # noqa: E402
from bench._machine import describe  # noqa: E402
from bench.realtime import Result, drive, process_tree  # noqa: E402


async def run(
    args: argparse.Namespace, box: Sandbox, granian: str, granian_pid: int, var: Path
) -> dict[str, Result]:
    pop = SandboxSettings().population
    rng = random.Random(7)
    dnis: list[str] = []
    while len(dnis) < 2000:
        h = pop.household(rng.randrange(pop.size))
        if (pop.as_of - h.mother.birth_date).days > 19 * 365:
            dnis.append(h.mother.dni)
    clients = json.loads((var / "sandbox-clients.json").read_text())["clients"]
    consumer = next(c for c in clients if c["role"] == "consumer")
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(
            f"{box.gateway}/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": consumer["client_id"],
                "client_secret": consumer["client_secret"],
            },
        ) as response:
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Purpose": "contact"}

        def requests(base: str) -> list[dict[str, Any]]:
            return [
                {"method": "GET", "url": f"{base}/v1/persons/{d}/phone-lines", "headers": headers}
                for d in dnis
            ]

        servers = {
            "uvicorn": (requests(box.gateway), process_tree(box.server.pid)),
            "granian": (requests(granian), process_tree(granian_pid)),
        }
        for batch, _ in servers.values():
            await drive(session, batch, 1.0, 32)
        results: dict[str, Result] = {}
        for _ in range(args.rounds):
            for name, (batch, pids) in servers.items():
                part = await drive(session, batch, args.seconds / args.rounds, 32, pids)
                results[name] = results[name].add(part) if name in results else part
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    binary = shutil.which("granian") or str(Path(sys.executable).parent / "granian")
    if not Path(binary).exists():
        print("granian is not installed (.venv/bin/pip install granian); nothing to compare")
        return
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        database = f"sqlite:///{tmp}/bench.db"
        with sandbox_processes(var, database, 1, rate_limit_per_minute="0") as box:
            (port,) = free_ports(1)
            env = {**box.env, "GATEWAY_PORT": str(port), "GATEWAY_EXCHANGES_WORKER": "false"}
            server = subprocess.Popen(
                [
                    binary,
                    "--interface",
                    "asgi",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    "1",
                    "--loop",
                    "uvloop",
                    "--no-log",
                    "gateway.app:create_app_from_environment",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                wait_until_up(f"{base}/healthz", server)
                results = asyncio.run(run(args, box, base, server.pid, var))
            finally:
                server.terminate()
                server.wait(timeout=20)
    print(f"machine: {describe()}")
    print("OSIPTEL lines through the gateway, 32 concurrent clients, one process each")
    for name, r in results.items():
        cpu = r.cpu_ms_per_call or 0.0
        print(f"{name:<9}{r.rate:>8.0f} req/s  p50 {r.pct(0.5):6.1f} ms  CPU {cpu:.2f} ms/call")


if __name__ == "__main__":
    main()
