"""Bulk HIS push: rows/s and the gateway's peak memory for one streamed NDJSON body.

Starts ``juntos-gateway serve --no-mocks`` (sandbox mode, a fresh SQLite file unless
``--database-url`` is given) and pushes ``--rows`` HIS records as one streamed body with
the sandbox partner's credentials. The baseline, in the same run, is the same body
streamed to a sink that only reads it, so the ratio is the cost of checking, sealing and
storing the rows. Peak memory is the gateway process's peak resident set (VmHWM).

    .venv/bin/python -m bench.inbound [--rows 1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from adapters.sandbox.settings import SandboxSettings
from bench._harness import free_ports, wait_until_up
from bench._machine import describe

CLI = [str(Path(sys.executable).with_name("juntos-gateway"))]
SINK = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    n = 0
    while True:
        message = await receive()
        n += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(n).encode()})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="error")
"""


def body(rows: int) -> Iterator[bytes]:
    pop = SandboxSettings().population
    cuis = [pop.household(i).child.cui for i in range(5000)]
    block: list[str] = []
    for i in range(rows):
        block.append(
            json.dumps(
                {
                    "cui": cuis[i % 5000],
                    "appointment_id": f"A{i:010d}",
                    "service_date": "2021-02-10",
                    "item_code": "90681",
                    "facility": "00001234",
                    "lab_value": "1",
                }
            )
        )
        if len(block) == 2000:
            yield ("\n".join(block) + "\n").encode()
            block = []
    if block:
        yield ("\n".join(block) + "\n").encode()


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        port, sink_port = free_ports(2)
        env = {
            **os.environ,
            "GATEWAY_ENV": "sandbox",
            "GATEWAY_DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.db",
            "GATEWAY_VAR_DIR": str(var),
            "GATEWAY_PORT": str(port),
            "GATEWAY_LOG_LEVEL": "WARNING",
        }
        subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
        server = subprocess.Popen([*CLI, "serve", "--no-mocks"], env=env, stdout=subprocess.DEVNULL)
        sink = subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)])
        try:
            gateway = f"http://127.0.0.1:{port}"
            wait_until_up(f"{gateway}/healthz", server)
            wait_until_up(f"http://127.0.0.1:{sink_port}/", sink)
            clients = json.loads((var / "sandbox-clients.json").read_text())["clients"]
            partner = next(c for c in clients if c["role"] == "partner")
            with httpx.Client(timeout=None) as http:
                token = http.post(
                    f"{gateway}/v1/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": partner["client_id"],
                        "client_secret": partner["client_secret"],
                    },
                ).json()["access_token"]
                started = time.perf_counter()
                http.post(f"http://127.0.0.1:{sink_port}/", content=body(args.rows))
                sink_rate = args.rows / (time.perf_counter() - started)
                before = peak_rss_mib(server.pid)
                started = time.perf_counter()
                answer = http.post(
                    f"{gateway}/v1/inbound/minsa-his/health-records",
                    content=body(args.rows),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "X-Purpose": "coresponsibility-verification",
                        "X-Message-Id": "bench-his-1",
                        "Content-Type": "application/x-ndjson",
                    },
                )
                elapsed = time.perf_counter() - started
                data = answer.json()["data"]
            rate = args.rows / elapsed
            backend = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
            accepted, rejected = data["rows_accepted"], data["rows_rejected"]
            print(f"machine: {describe()}")
            print(f"database: {backend}")
            print(f"rows pushed: {args.rows:,} (accepted {accepted:,}, rejected {rejected:,})")
            print(f"sink (read and discard the same stream): {sink_rate:,.0f} rows/s")
            print(
                f"gateway push: {rate:,.0f} rows/s in {elapsed:.1f} s "
                f"({rate / sink_rate:.2f}x the sink)"
            )
            after = peak_rss_mib(server.pid)
            print(f"gateway peak RSS: {before:.0f} MiB before the push, {after:.0f} MiB after")
        finally:
            for proc in (server, sink):
                proc.terminate()
                proc.wait(timeout=15)


if __name__ == "__main__":
    main()
