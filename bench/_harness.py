"""What several benchmarks share: waiting for a started process to answer, the databases
a bench runs on (a fresh SQLite file, a scratch PostgreSQL database created for one run
and dropped after it), and the sandbox's processes."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports: the sockets stay bound until all are chosen, so the
    system cannot hand the same port out twice."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early: {proc.args!r}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def scratch_postgres(server_url: str, prefix: str) -> Iterator[str]:
    """A new empty database on the server at ``server_url``; its URL; dropped after."""
    server = make_url(server_url)
    scratch = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = (
        f"host={server.host} port={server.port or 5432} user={server.username} "
        f"dbname={server.database}"
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    try:
        yield server.set(database=scratch).render_as_string(False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")


def databases(args: argparse.Namespace, name: str) -> Iterator[tuple[str, str]]:
    """("SQLite", URL of a fresh file), then ("PostgreSQL", URL of a scratch database on
    ``--postgres``), as the options allow; each removed once the bench moves on."""
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            yield "SQLite", f"sqlite:///{Path(tmp) / f'{name}.db'}"
    if not args.no_postgres:
        with scratch_postgres(args.postgres, f"bench_{name}") as url:
            yield "PostgreSQL", url


CLI = [sys.executable, "-m", "gateway.cli"]
PARTNERS = ("RENIEC", "OSIPTEL", "BN", "MINSA_HIS")


@dataclass
class Sandbox:
    gateway: str
    mock_urls: dict[str, str]
    env: dict[str, str]
    server: subprocess.Popen[bytes]
    mocks: subprocess.Popen[bytes]


@contextmanager
def sandbox_processes(
    var: Path, database_url: str, workers: int, **settings: str
) -> Iterator[Sandbox]:
    """The four mocks and the SMS centre (one process) and a sandbox gateway (``serve
    --no-mocks --workers N``) on free ports and a migrated database; ``settings`` are
    extra ``GATEWAY_*`` variables. Both are stopped on exit."""
    *partner_ports, smsc_port, smsc_admin_port, gateway_port = free_ports(len(PARTNERS) + 3)
    ports = dict(zip(PARTNERS, partner_ports, strict=True))
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **os.environ,
        **{f"GATEWAY_SANDBOX_{name}_PORT": str(port) for name, port in ports.items()},
        **{f"GATEWAY_PARTNERS__{name}__BASE_URL": url for name, url in urls.items()},
        # The SMS centre speaks SMPP; as in the demo's sandbox, it sends at any hour and
        # grants a wider window than an operator's default (per bind, so per process).
        "GATEWAY_SANDBOX_SMSC_PORT": str(smsc_port),
        "GATEWAY_SANDBOX_SMSC_ADMIN_PORT": str(smsc_admin_port),
        "GATEWAY_PARTNERS__SMSC__BASE_URL": f"smpp://127.0.0.1:{smsc_port}",
        "GATEWAY_PARTNERS__SMSC__SENDING_FROM_HOUR": "0",
        "GATEWAY_PARTNERS__SMSC__SENDING_TO_HOUR": "24",
        "GATEWAY_PARTNERS__SMSC__MESSAGES_PER_SECOND": "2000",
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_VAR_DIR": str(var),
        "GATEWAY_PORT": str(gateway_port),
        "GATEWAY_LOG_LEVEL": "WARNING",
        **{f"GATEWAY_{name.upper()}": value for name, value in settings.items()},
    }
    subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)
    mocks = subprocess.Popen([*CLI, "mocks"], env=env, stdout=subprocess.DEVNULL)
    server = subprocess.Popen(
        [*CLI, "serve", "--no-mocks", "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        gateway = f"http://127.0.0.1:{gateway_port}"
        wait_until_up(f"{gateway}/healthz", server)
        wait_until_up(f"{urls['RENIEC']}/ws/ConsultaDni?wsdl", mocks)
        yield Sandbox(gateway, urls, env, server, mocks)
    finally:
        for proc in (server, mocks):
            proc.terminate()
            proc.wait(timeout=30)
