"""Real-time look-ups: direct to the mock agency, through a plain reverse proxy, and
through the gateway, in one run.

Starts the four mocks (``juntos-gateway mocks``) and the gateway (``juntos-gateway serve
--no-mocks``, sandbox mode, a fresh SQLite file, or a scratch database created on the
PostgreSQL server named by ``--database-url`` and dropped after) as separate processes,
and nginx (the Debian package, when installed) as a plain reverse proxy in front of the
mocks, with its own temporary prefix and configuration, in the foreground, one worker.
It then drives each path from this process with an aiohttp client at a fixed
concurrency. For RENIEC (SOAP ``consultar``) and OSIPTEL (lines by DNI) it prints
throughput, p50/p99 latency, the ratio of each path to direct, and the CPU time per call
of the process(es) in the middle (utime + stime from ``/proc/<pid>/stat``, summed over
the process and its children, read before and after the measured phase): CPU per call
and ratios hold when the machine's speed drifts, absolute rates do not. At the end it
checks that every call through the gateway left an audit event.

Through the gateway a call is: token check, client registry, catalog decision, partner
call, projection, audit event committed before the answer leaves.

The paths of a look-up alternate in ``--rounds`` slices, so a change in the shared
machine's load weighs on direct, nginx and gateway alike.

Usage: .venv/bin/python bench/realtime.py [--seconds 5] [--rounds 5] [--concurrency 32]
       [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
       [--gateway-workers 2] [--lookups osiptel,reniec] [--paths direct,nginx,gateway]
       [--profile DIR]   (py-spy, when installed, records the gateway during its phases)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from adapters.sandbox.settings import SandboxSettings  # noqa: E402
from bench._harness import free_ports, sandbox_processes, scratch_postgres  # noqa: E402
from bench._machine import describe  # noqa: E402

SOAP = (
    '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>'
    '<ns2:consultar xmlns:ns2="http://ws.reniec.gob.pe/"><arg0>'
    "<nuDniConsulta>{}</nuDniConsulta><nuDniUsuario>40000001</nuDniUsuario>"
    "<nuRucUsuario>20900000015</nuRucUsuario><password>juntos-sandbox</password>"
    "</arg0></ns2:consultar></S:Body></S:Envelope>"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOOKUPS = {"reniec": "RENIEC consultar", "osiptel": "OSIPTEL lines"}
PATHS = ("direct", "nginx", "gateway")


@dataclass
class Result:
    count: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float | None = None

    def add(self, other: Result) -> Result:
        cpu = None
        if self.cpu_seconds is not None and other.cpu_seconds is not None:
            cpu = self.cpu_seconds + other.cpu_seconds
        return Result(
            self.count + other.count,
            self.seconds + other.seconds,
            self.latencies + other.latencies,
            cpu,
        )

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000

    @property
    def cpu_ms_per_call(self) -> float | None:
        if self.cpu_seconds is None or not self.count:
            return None
        return self.cpu_seconds / self.count * 1000


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (uvicorn's workers, nginx's)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / CLOCK_TICKS


async def drive(
    session: aiohttp.ClientSession,
    requests: list[dict[str, Any]],
    seconds: float,
    concurrency: int,
    pids: list[int] | None = None,
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

    cpu_before = cpu_seconds(pids) if pids else 0.0
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pids) - cpu_before if pids else None
    if failures:
        raise RuntimeError(f"{failures} requests failed; first: {first_failure['answer']}")
    return Result(len(latencies), elapsed, latencies, cpu)


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream reniec {{ server 127.0.0.1:{reniec}; keepalive 64; }}
    upstream osiptel {{ server 127.0.0.1:{osiptel}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location /reniec/ {{
            proxy_pass http://reniec/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
        location /osiptel/ {{
            proxy_pass http://osiptel/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


@contextmanager
def nginx_proxy(tmp: Path, reniec: str, osiptel: str) -> Iterator[tuple[str, int] | None]:
    """nginx in front of the two mocks (``/reniec/...``, ``/osiptel/...``): its base URL
    and pid, or None when nginx is not installed."""
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if binary is None:
        yield None
        return
    prefix = tmp / "nginx"
    prefix.mkdir()
    (port,) = free_ports(1)
    conf = prefix / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            prefix=prefix,
            port=port,
            reniec=reniec.rsplit(":", 1)[1],
            osiptel=osiptel.rsplit(":", 1)[1],
        )
    )
    proc = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                detail = (proc.stderr.read() if proc.stderr else b"").decode()[-300:]
                raise RuntimeError(f"nginx exited: {detail}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def profiler(out: Path | None, pids: list[int], seconds: float, name: str) -> Iterator[None]:
    """py-spy recording the gateway for one phase (raw folded stacks), when asked."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if out is None or not Path(spy).exists():
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                "250",
                "--format",
                "raw",
                "--nonblocking",
                "-o",
                str(out / f"{name}-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]
    try:
        yield
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a busy target can keep it sampling
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=30)


def count_audited(database_url: str) -> int:
    sql = (
        "SELECT count(*) FROM audit_events WHERE outcome = 'ok' AND service IN "
        "('reniec.person', 'osiptel.phone-lines')"
    )
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        db = sqlite3.connect(url.database or "")
        try:
            return int(db.execute(sql).fetchone()[0])
        finally:
            db.close()
    dsn = url.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0


async def run(
    args: argparse.Namespace,
    env: dict[str, str],
    gateway: str,
    gateway_pid: int,
    proxy: tuple[str, int] | None,
    var: Path,
) -> tuple[dict[tuple[str, str], Result], int]:
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
    results: dict[tuple[str, str], Result] = {}
    through_calls = 0
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

        def soap(base: str) -> list[dict[str, Any]]:
            return [
                {
                    "method": "POST",
                    "url": f"{base}/ws/ConsultaDni",
                    "data": SOAP.format(d),
                    "headers": {"Content-Type": "text/xml; charset=utf-8"},
                }
                for d in dnis
            ]

        def lines(base: str) -> list[dict[str, Any]]:
            return [
                {
                    "method": "GET",
                    "url": f"{base}/v1/lineas",
                    "params": {"tipoDocumento": "DNI", "numeroDocumento": d},
                    "headers": {"X-Api-Key": "osiptel-sandbox-juntos"},
                }
                for d in dnis
            ]

        def through(suffix: str, purpose: str) -> list[dict[str, Any]]:
            return [
                {
                    "method": "GET",
                    "url": f"{gateway}/v1/persons/{d}{suffix}",
                    "headers": auth | {"X-Purpose": purpose},
                }
                for d in dnis
            ]

        nginx_base, nginx_pid = proxy if proxy else ("", 0)
        phases: dict[tuple[str, str], tuple[list[dict[str, Any]], list[int]]] = {
            ("reniec", "direct"): (soap(reniec), []),
            ("reniec", "nginx"): (soap(f"{nginx_base}/reniec"), [nginx_pid]),
            ("reniec", "gateway"): (through("", "affiliation"), process_tree(gateway_pid)),
            ("osiptel", "direct"): (lines(osiptel), []),
            ("osiptel", "nginx"): (lines(f"{nginx_base}/osiptel"), [nginx_pid]),
            ("osiptel", "gateway"): (
                through("/phone-lines", "contact"),
                process_tree(gateway_pid),
            ),
        }
        chosen = [
            (key, spec)
            for key, spec in phases.items()
            if key[0] in args.lookups
            and key[1] in args.paths
            and not (key[1] == "nginx" and proxy is None)
        ]
        for (_, path), (requests, _) in chosen:
            warm = await drive(session, requests, 1.0, args.concurrency)
            if path == "gateway":
                through_calls += warm.count
        # The paths of a look-up take turns, a slice each per round, so a change in the
        # machine's load during the run weighs on all of them alike.
        rounds = 1 if args.profile else args.rounds
        for lookup in LOOKUPS:
            for _ in range(rounds):
                for (name, path), (requests, pids) in chosen:
                    if name != lookup:
                        continue
                    with profiler(
                        args.profile if path == "gateway" else None, pids, args.seconds, lookup
                    ):
                        part = await drive(
                            session, requests, args.seconds / rounds, args.concurrency, pids
                        )
                    if path == "gateway":
                        through_calls += part.count
                    results[(lookup, path)] = (
                        results[(lookup, path)].add(part)
                        if (
                            lookup,
                            path,
                        )
                        in results
                        else part
                    )
    return results, through_calls


def load_average() -> str:
    """The machine's 1-minute load average (other work sharing the cores)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def report(
    args: argparse.Namespace,
    results: dict[tuple[str, str], Result],
    nginx_present: bool,
    loads: tuple[str, str],
) -> None:
    print(f"machine: {describe()}; load average {loads[0]} at the start, {loads[1]} at the end")
    print(
        f"{args.concurrency} concurrent clients, {args.seconds:.0f} s per path in "
        f"{1 if args.profile else args.rounds} alternating slices, "
        f"{args.gateway_workers} gateway process(es) on "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}, mocks in one other process, "
        "nginx with one worker, load generator in this process"
    )
    if "nginx" in args.paths and not nginx_present:
        print("nginx: not installed (apt-get install -y nginx); its rows are skipped")
    print(
        f"{'look-up':<18}{'path':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'/direct':>9}{'CPU ms/call':>13}"
    )
    for (lookup, path), r in results.items():
        direct = results.get((lookup, "direct"))
        ratio = f"{r.rate / direct.rate:.2f}" if direct and path != "direct" else ""
        cpu = r.cpu_ms_per_call
        print(
            f"{LOOKUPS[lookup]:<18}{path:<9}{r.rate:>9.0f}{r.pct(0.5):>9.1f}{r.pct(0.99):>9.1f}"
            f"{ratio:>9}{'' if cpu is None else f'{cpu:.2f}':>13}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=5, help="turns the paths of a look-up take (slices)"
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server: the bench creates a scratch database on it (SQLite if unset)",
    )
    parser.add_argument("--gateway-workers", "--workers", type=int, default=1)
    parser.add_argument("--lookups", default="reniec,osiptel")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    args.lookups = set(args.lookups.split(","))
    args.paths = set(args.paths.split(","))
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        var = Path(tmp) / "var"
        database_url = f"sqlite:///{tmp}/bench.db"
        if args.database_url:
            database_url = stack.enter_context(scratch_postgres(args.database_url, "realtime"))
        box = stack.enter_context(
            sandbox_processes(
                var,
                database_url,
                args.gateway_workers,
                rate_limit_per_minute="0",  # the raw path, not one client's quota
            )
        )
        mocks = box.mock_urls
        proxy = stack.enter_context(nginx_proxy(Path(tmp), mocks["RENIEC"], mocks["OSIPTEL"]))
        env_for_run = {k: v for k, v in box.env.items() if k.startswith("GATEWAY_SANDBOX_")}
        load_before = load_average()
        results, through_calls = asyncio.run(
            run(args, env_for_run, box.gateway, box.server.pid, proxy, var)
        )
        report(args, results, proxy is not None, (load_before, load_average()))
        audited = count_audited(database_url)
        print(f"audit events for calls through the gateway: {audited} of {through_calls}")


if __name__ == "__main__":
    main()
