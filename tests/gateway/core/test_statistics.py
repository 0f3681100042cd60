"""The planner's statistics: a table filled since its last ANALYZE is analyzed by the
gateway's periodic task, so look-ups of a batch of keys read its index, not the table.

On PostgreSQL (the server of this suite has autovacuum off, as where it is turned off by
an operator): a table of 20,000 rows never analyzed is read whole for 64 keys; after
:func:`refresh_statistics` it is read through its index, and a second round finds
nothing due; while another process holds the round's lock, a round skips. On SQLite the
task does nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.core.db import create_engine, session_factory, transaction
from gateway.core.statistics import LOCK_KEY, refresh_statistics

KEYS = ", ".join(f"'{n:010d}'" for n in range(1_000, 1_064))
LOOKUP = f"SELECT ref FROM statistics_probe WHERE ref IN ({KEYS})"


@pytest.fixture
async def engine(clean_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(clean_database)
    yield engine
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS statistics_probe"))
    await engine.dispose()


async def _plan(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(f"EXPLAIN {LOOKUP}"))).scalars()
        return "\n".join(rows)


async def _changes_seen(engine: AsyncEngine, at_least: int) -> None:
    """Wait (at most 10 s) until the cumulative statistics count the probe's inserts."""
    for _ in range(100):
        async with engine.connect() as conn:
            seen = await conn.scalar(
                text(
                    "SELECT n_mod_since_analyze FROM pg_stat_user_tables "
                    "WHERE relname = 'statistics_probe'"
                )
            )
        if seen is not None and seen >= at_least:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the inserts never reached pg_stat_user_tables")


async def _fill(engine: AsyncEngine, first: int, last: int) -> None:
    """Rows ``first`` to ``last`` inserted, and counted by the cumulative statistics."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO statistics_probe SELECT n, lpad(n::text, 10, '0') "
                "FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
            ),
            {"first": first, "last": last},
        )
        await conn.execute(text("SELECT pg_stat_force_next_flush()"))
    await _changes_seen(engine, last - first + 1)


async def _rows_analyzed(engine: AsyncEngine) -> float:
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'statistics_probe'")
        )
    return float(found)


async def test_a_filled_table_is_analyzed_and_then_read_through_its_index(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    if engine.dialect.name != "postgresql":
        async with transaction(sessions) as session:
            assert await refresh_statistics(session) == 0
        return
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE statistics_probe (id integer PRIMARY KEY, ref varchar(16))")
        )
        await conn.execute(text("CREATE INDEX ix_statistics_probe_ref ON statistics_probe (ref)"))
    await _fill(engine, 1, 20_000)
    assert "Seq Scan on statistics_probe" in await _plan(engine)

    async with transaction(sessions) as session:
        assert await refresh_statistics(session) >= 1
    assert await _rows_analyzed(engine) == 20_000
    plan = await _plan(engine)
    assert "ix_statistics_probe_ref" in plan, plan
    assert "Seq Scan" not in plan

    # Nothing changed since: the next round analyzes nothing.
    async with transaction(sessions) as session:
        assert await refresh_statistics(session) == 0

    # The table doubles; while another process holds the round's lock, this one skips,
    # and once it is free the table is analyzed again.
    await _fill(engine, 20_001, 40_000)
    async with transaction(sessions) as holder:
        await holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        async with transaction(sessions) as other:
            assert await refresh_statistics(other) == 0
    async with transaction(sessions) as session:
        assert await refresh_statistics(session) >= 1
    assert await _rows_analyzed(engine) == 40_000
