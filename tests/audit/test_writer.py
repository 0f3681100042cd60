"""Group commit: concurrent events share commits, and nobody is told "stored" falsely."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from audit.events import AuditEvent
from audit.store import audit_events, recent
from audit.writer import GroupCommitWriter
from gateway import migrate
from gateway.core.db import create_engine, session_factory


def event(n: int) -> AuditEvent:
    return AuditEvent(request_id=f"r{n}", client_id="cl_x", service="reniec.person", purpose="p")


async def test_concurrent_events_are_all_stored_in_fewer_commits(clean_database: str) -> None:
    engine = create_engine(clean_database)
    writer = GroupCommitWriter(create_engine(clean_database))
    await asyncio.gather(*(writer.write(event(n)) for n in range(200)))
    async with session_factory(engine)() as session:
        stored = await session.scalar(select(func.count()).select_from(audit_events))
        ids = {e["request_id"] for e in await recent(session, limit=1000)}
    await writer.aclose()
    await engine.dispose()
    assert stored == 200
    assert ids == {f"r{n}" for n in range(200)}
    assert writer.batches < 200


async def test_a_failed_commit_reaches_every_waiter(tmp_path: Path) -> None:
    # A database without the audit table: every insert fails, the connection itself is
    # fine (a connection that cannot even open leaves a driver thread behind the test).
    writer = GroupCommitWriter(create_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}"))
    results = await asyncio.gather(
        *(writer.write(event(n)) for n in range(5)), return_exceptions=True
    )
    await writer.aclose()
    assert len(results) == 5
    assert all(isinstance(r, Exception) for r in results)
    with pytest.raises(Exception):  # noqa: B017, PT011 - any storage error must surface
        await writer.write(event(9))
    await writer.aclose()


async def test_a_batch_is_stored_whole_or_not_at_all(clean_database: str) -> None:
    """Events that share a commit share its fate: one event the database refuses (no
    service) fails the whole batch, and no event of it is stored half-way."""
    writer = GroupCommitWriter(create_engine(clean_database))
    broken = event(99)
    broken.service = None  # type: ignore[assignment]
    results = await asyncio.gather(
        *(writer.write(e) for e in [event(1), event(2), broken, event(3)]),
        return_exceptions=True,
    )
    await writer.aclose()
    assert all(isinstance(r, Exception) for r in results)
    engine = create_engine(clean_database)
    async with session_factory(engine)() as session:
        stored = await session.scalar(select(func.count()).select_from(audit_events))
    await engine.dispose()
    assert stored == 0


async def test_no_event_is_left_behind_while_a_flusher_stops(clean_database: str) -> None:
    """Callers arrive one after another at every moment of a flusher's life, including
    while it closes its connection after the last batch: each is still written."""
    writer = GroupCommitWriter(create_engine(clean_database))
    rng = random.Random(95)

    async def caller(n: int) -> None:
        for _ in range(rng.randint(0, 6)):  # arrive a varying number of loop turns later
            await asyncio.sleep(0)
        await writer.write(event(n))

    for n in range(0, 300, 3):
        await asyncio.wait_for(asyncio.gather(*(caller(n + k) for k in range(3))), timeout=20)
    await writer.aclose()
    engine = create_engine(clean_database)
    async with session_factory(engine)() as session:
        stored = await session.scalar(select(func.count()).select_from(audit_events))
    await engine.dispose()
    assert stored == 300


async def test_sqlite_events_wait_for_a_held_write_lock_without_stalling_the_loop(
    tmp_path: Path,
) -> None:
    """On SQLite a batch is first tried in the event loop without waiting for a lock;
    while another connection holds the write lock the batch waits in the driver's
    thread instead, the loop keeps running, and every event is stored once it is free."""
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    migrate.upgrade(url)
    writer = GroupCommitWriter(create_engine(url))
    await writer.write(event(0))  # the fast path works when nobody holds the lock
    assert writer.fast_batches == 1

    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    writes = asyncio.gather(*(writer.write(event(n)) for n in range(1, 6)))
    turns = 0
    while turns < 50:  # the loop goes on turning while the events wait for the lock
        await asyncio.sleep(0.001)
        turns += 1
    assert not writes.done()
    holder.execute("COMMIT")
    holder.close()
    await writes
    await writer.aclose()

    check = sqlite3.connect(tmp_path / "locked.db")
    stored = {r for (r,) in check.execute("SELECT body FROM audit_events")}
    check.close()
    assert len(stored) == 6
    assert writer.batches > writer.fast_batches
