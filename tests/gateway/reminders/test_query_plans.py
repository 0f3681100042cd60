"""How SQLite looks up reminders while a national month's queue waits.

SQLite plans without statistics, taking an equality on any index for about ten rows: a
claim of 200 reminders by key, or an opt-out by phone, written with ``state IN (...)``
read every queued reminder through the state index instead (0.3 s a statement at
440,000 queued; ``bench.sms --backlog``). These plans are what keeps the sending rate
independent of the queue's length, on the embedded database every newcomer runs; the
programme reads each batch's counts every second while it waits, from the index alone.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from gateway import migrate
from gateway.core.db import create_engine, session_factory, transaction
from gateway.reminders.repository import ReminderRepository


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/plans.db"
    migrate.upgrade(url)
    return str(tmp_path / "plans.db")


def plans(path: str, statements: list[tuple[str, Any]]) -> list[str]:
    """The query plan of each statement on the reminders table, one line per step."""
    found = []
    with sqlite3.connect(path) as conn:
        for sql, params in statements:
            if "sms_reminders" not in sql:
                continue
            rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            found.append(" | ".join(row[3] for row in rows))
    return found


async def statements_of(path: str, work: Any) -> list[tuple[str, Any]]:
    """The SQL and parameters ``work(repository)`` executes, in a rolled-back
    transaction."""
    engine = create_engine(f"sqlite:///{path}")
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        seen.append((sql, params[0] if many else params))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with transaction(session_factory(engine)) as session:
            await work(ReminderRepository(session))
            await session.rollback()
    finally:
        await engine.dispose()
    return seen


NOW = datetime(2020, 12, 1, 13, tzinfo=UTC)


def test_a_claim_takes_the_next_due_in_index_order_and_updates_them_by_key(
    database: str,
) -> None:
    async def claim(repo: ReminderRepository) -> None:
        await repo.claim_next(NOW, NOW + timedelta(seconds=30), 200)

    found = plans(database, asyncio.run(statements_of(database, claim)))
    assert len(found) == 2  # those whose claim ran out, then the queue
    for plan in found:
        # The update finds its rows by key; the due ones are read in the index's order.
        assert "sqlite_autoindex_sms_reminders_1 (reminder_key=?)" in plan, plan
        assert "ix_sms_reminders_state_next_at (state=? AND next_at<?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_whether_any_is_due_is_one_probe_of_the_index_per_state(database: str) -> None:
    async def due(repo: ReminderRepository) -> None:
        await repo.any_due(NOW)

    found = plans(database, asyncio.run(statements_of(database, due)))
    assert len(found) == 2  # queued, then those whose claim ran out
    for plan in found:
        assert "ix_sms_reminders_state_next_at (state=? AND next_at<?)" in plan, plan


def test_an_opt_out_finds_the_phones_reminders_by_the_phone(database: str) -> None:
    async def opt_out(repo: ReminderRepository) -> None:
        await repo.opt_out("a" * 64, "BAJA", NOW)

    found = plans(database, asyncio.run(statements_of(database, opt_out)))
    assert found
    assert "ix_sms_reminders_phone_ref (phone_ref=?)" in found[-1], found[-1]


def test_a_batch_is_counted_from_the_index_alone(database: str) -> None:
    async def counts(repo: ReminderRepository) -> None:
        await repo.counts("b" * 36)

    found = plans(database, asyncio.run(statements_of(database, counts)))
    assert found == [
        "SEARCH sms_reminders USING COVERING INDEX ix_sms_reminders_batch_id_state (batch_id=?)"
    ]
