"""Per-client quotas: 429 with Retry-After, counted across gateway processes."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, OperationalError

from gateway import migrate
from gateway.core.db import create_engine, database_busy, session_factory
from gateway.ratelimit.models import RateWindow
from gateway.ratelimit.service import RateLimiter
from tests.fixtures.database import DatabaseFactory
from tests.fixtures.serving import mock_ports, run_cli, serving


def away_from_window_edge(window: int = 60, margin: float = 20.0) -> None:
    """Quotas are per minute: start where the minute cannot roll over mid-test."""
    into = time.time() % window
    if into > window - margin:
        time.sleep(window - into + 0.5)


async def test_limiters_sharing_a_database_never_admit_more_than_the_limit(
    databases: DatabaseFactory,
) -> None:
    url = databases.new()
    await asyncio.to_thread(migrate.upgrade, url)
    engines = [create_engine(url), create_engine(url)]
    limiters = [RateLimiter(session_factory(e), per_minute=500) for e in engines]
    try:
        away_from_window_edge()

        async def burst(limiter: RateLimiter, n: int) -> list[int | None]:
            return [await limiter.admit("cl_busy") for _ in range(n)]

        answers = await asyncio.gather(*(burst(lim, 400) for lim in limiters))
        admitted = sum(a is None for batch in answers for a in batch)
        # Never more than the limit; at most one unspent block per process lapses.
        assert 500 - 2 * limiters[0].block <= admitted <= 500
        refused = [a for batch in answers for a in batch if a is not None]
        assert refused
        assert all(1 <= a <= 60 for a in refused)
        assert await limiters[0].admit("cl_other") is None  # quotas are per client
    finally:
        for e in engines:
            await e.dispose()


async def test_a_claim_waits_out_a_database_held_past_its_busy_timeout(tmp_path: Path) -> None:
    """Another process holding SQLite's write lock longer than ``busy_timeout`` delays
    the request; it is neither failed nor admitted without its quota counted."""
    url = f"sqlite:///{tmp_path / 'quota.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def short_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=50")  # in place of 10 s

    limiter = RateLimiter(session_factory(engine), per_minute=100)
    holder = sqlite3.connect(tmp_path / "quota.db", isolation_level=None)
    try:
        away_from_window_edge()
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as a busy process holds it
        admitting = asyncio.create_task(limiter.admit("cl_waiting"))
        await asyncio.sleep(0.3)  # past the first busy timeout and its retry
        assert not admitting.done()
        holder.execute("COMMIT")
        assert await asyncio.wait_for(admitting, 10) is None
        async with session_factory(engine)() as session:
            used = (await session.execute(select(RateWindow.used))).scalar_one()
        assert used == limiter.block

        holder.execute("BEGIN IMMEDIATE")  # held past every attempt: the request fails
        with pytest.raises(OperationalError, match="database is locked"):
            await asyncio.wait_for(limiter.admit("cl_refused"), 30)
    finally:
        holder.close()
        await limiter.aclose()
        await engine.dispose()


def test_only_a_busy_sqlite_database_counts_as_busy(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (a INTEGER PRIMARY KEY)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError) as busy:
            other.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.OperationalError) as syntax:
            other.execute("INSERT INTO nowhere VALUES (1)")
    finally:
        other.close()
        holder.close()
    assert database_busy(OperationalError("INSERT", {}, busy.value))
    assert not database_busy(OperationalError("INSERT", {}, syntax.value))
    assert not database_busy(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")))
    assert not database_busy(busy.value)  # only as SQLAlchemy raises it


def test_quota_holds_across_two_gateway_processes(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    env = {
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": databases.new(),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "40",
        "GATEWAY_LOG_LEVEL": "WARNING",
        **mock_ports(),
    }
    assert run_cli(["db", "upgrade"], env, tmp_path).returncode == 0
    with serving(env, tmp_path, "--no-mocks") as one, serving(env, tmp_path, "--no-mocks") as two:
        seeded = json.loads((tmp_path / "var" / "sandbox-clients.json").read_text())["clients"]
        tokens = {}
        for role in ("consumer", "auditor"):
            client = next(c for c in seeded if c["role"] == role)
            form = {
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            }
            answer = httpx.post(f"{one.base}/v1/token", data=form, timeout=10)
            tokens[role] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        away_from_window_edge()
        statuses = []
        refused = []
        for n in range(60):
            base = (one, two)[n % 2].base
            answer = httpx.get(f"{base}/v1/services", headers=tokens["consumer"], timeout=10)
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                refused.append(answer)
        assert statuses.count(200) == 40
        assert statuses.count(429) == 20
        assert statuses[:40] == [200] * 40  # both processes count against one quota
        for answer in refused:
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["type"] == "/problems/rate-limited"
            assert 1 <= int(answer.headers["retry-after"]) <= 60
        other = httpx.get(f"{two.base}/v1/services", headers=tokens["auditor"], timeout=10)
        assert other.status_code == 200  # another client's quota is untouched


async def test_the_next_block_is_claimed_before_the_current_one_runs_out(
    databases: DatabaseFactory,
) -> None:
    """Once half a block is spent the next one is claimed in the background, so requests
    under a steady load do not wait for the shared row."""
    url = databases.new()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    limiter = RateLimiter(session_factory(engine), per_minute=500)
    try:
        away_from_window_edge()
        for _ in range(limiter.block // 2 + 1):
            assert await limiter.admit("cl_steady") is None
        await limiter.aclose()  # the claim started in the background has landed
        async with session_factory(engine)() as session:
            used = await session.scalar(
                select(RateWindow.used).where(RateWindow.client_id == "cl_steady")
            )
        assert used == 2 * limiter.block
    finally:
        await limiter.aclose()
        await engine.dispose()
