"""What several benchmarks share: waiting for a started process to answer, and a scratch
PostgreSQL database created for one run and dropped after it."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
