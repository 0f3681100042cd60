"""Group commit: concurrent events share commits, and nobody is told "stored" falsely."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from audit.events import AuditEvent
from audit.store import audit_events, recent
from audit.writer import GroupCommitWriter
from gateway.core.db import create_engine, session_factory


def event(n: int) -> AuditEvent:
    return AuditEvent(request_id=f"r{n}", client_id="cl_x", service="reniec.person", purpose="p")


async def test_concurrent_events_are_all_stored_in_fewer_commits(clean_database: str) -> None:
    engine = create_engine(clean_database)
    writer = GroupCommitWriter(session_factory(engine))
    await asyncio.gather(*(writer.write(event(n)) for n in range(200)))
    async with session_factory(engine)() as session:
        stored = await session.scalar(select(func.count()).select_from(audit_events))
        ids = {e["request_id"] for e in await recent(session, limit=1000)}
    await writer.aclose()
    assert stored == 200
    assert ids == {f"r{n}" for n in range(200)}
    assert writer.batches < 200


async def test_a_failed_commit_reaches_every_waiter(tmp_path: Path) -> None:
    # A database without the audit table: every insert fails, the connection itself is
    # fine (a connection that cannot even open leaves a driver thread behind the test).
    engine = create_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}")
    writer = GroupCommitWriter(session_factory(engine))
    results = await asyncio.gather(
        *(writer.write(event(n)) for n in range(5)), return_exceptions=True
    )
    await writer.aclose()
    assert len(results) == 5
    assert all(isinstance(r, Exception) for r in results)
    with pytest.raises(Exception):  # noqa: B017, PT011 - any storage error must surface
        await writer.write(event(9))
    await engine.dispose()
