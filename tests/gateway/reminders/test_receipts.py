"""Delivery receipts stored by the SMSC adapter's handler, on the database under test:
each caller learns its own outcome once its receipt is committed, receipts arriving
together share transactions, and an id never stored is refused so that the SMS centre
sends it again."""

from __future__ import annotations

import asyncio
from asyncio import Future
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import event, select, update

from gateway.core.db import transaction
from gateway.partners.models import DeliveryReport, SmsEvent
from gateway.partners.ports import UnknownMessage
from gateway.reminders.models import Reminder
from gateway.reminders.service import RECEIPT_BATCH
from tests.gateway.reminders.test_claims import queue


async def sent(app: FastAPI, count: int, prefix: str) -> None:
    """``count`` reminders queued and submitted, their message ids ``prefix`` + 0, 1..."""
    keys = await queue(app, count)
    async with transaction(app.state.gateway.sessions) as session:
        for n, key in enumerate(keys):
            await session.execute(
                update(Reminder)
                .where(Reminder.reminder_key == key)
                .values(state="sent", message_id=f"{prefix}{n}")
            )


def delivered(handle: Callable[[SmsEvent], Awaitable[None]], message_id: str) -> Future[None]:
    """The delivery receipt of ``message_id`` handed to ``handle``, as a task."""
    report = DeliveryReport(message_id, "delivered", "DELIVRD", "000", datetime.now(UTC))
    return asyncio.ensure_future(handle(report))


async def test_receipts_together_share_bounded_transactions(app: FastAPI) -> None:
    state = app.state.gateway
    count = 2 * RECEIPT_BATCH + 200
    await sent(app, count, "m")
    commits: list[int] = []
    event.listen(state.engine.sync_engine, "commit", lambda _conn: commits.append(1))
    handle = state.reminders.handler(state.sessions)
    now = datetime.now(UTC)
    reports = [DeliveryReport(f"m{n}", "delivered", "DELIVRD", "000", now) for n in range(count)]
    outcomes = await asyncio.gather(
        *(handle(r) for r in reports),
        handle(DeliveryReport("never-sent", "delivered", "DELIVRD", "000", now)),
        return_exceptions=True,
    )
    assert outcomes[:count] == [None] * count
    assert isinstance(outcomes[count], UnknownMessage)
    # Every receipt of the burst stored, a few transactions for them all.
    assert 1 <= len(commits) <= count // 100
    async with transaction(state.sessions) as session:
        states = (await session.execute(select(Reminder.state))).scalars().all()
    assert states == ["delivered"] * count


async def test_a_receipt_after_a_burst_is_stored_too(app: FastAPI) -> None:
    """A receipt arriving while the ones before it are being stored is not left behind."""
    state = app.state.gateway
    await sent(app, 3, "late")
    handle = state.reminders.handler(state.sessions)
    now = datetime.now(UTC)
    first = asyncio.gather(
        *(handle(DeliveryReport(f"late{n}", "delivered", "DELIVRD", "000", now)) for n in (0, 1))
    )
    await asyncio.sleep(0)  # the first two are being stored
    late = handle(DeliveryReport("late2", "failed", "UNDELIV", "001", now))
    assert await asyncio.wait_for(asyncio.gather(first, late), 10) == [[None, None], None]
    async with transaction(state.sessions) as session:
        stored = dict((await session.execute(select(Reminder.message_id, Reminder.state))).all())
    assert stored == {"late0": "delivered", "late1": "delivered", "late2": "failed"}


async def test_a_steady_stream_of_receipts_is_stored_as_it_comes(app: FastAPI) -> None:
    """Receipts that never pause (one every half millisecond here) are still stored in
    bounded waits: the first is committed long before the stream ends."""
    state = app.state.gateway
    count = 600
    await sent(app, count, "s")
    handle = state.reminders.handler(state.sessions)
    waiting = []
    first_stored_at = None
    for n in range(count):
        waiting.append(delivered(handle, f"s{n}"))
        if first_stored_at is None and waiting[0].done():
            first_stored_at = n
        await asyncio.sleep(0.0005)
    assert await asyncio.wait_for(asyncio.gather(*waiting), 30) == [None] * count
    assert first_stored_at is not None
    assert first_stored_at < count // 2


async def test_a_full_window_of_receipts_is_stored_without_waiting_for_more(
    app: FastAPI,
) -> None:
    """Once the SMSC's window of receipts is in, it sends no more until they are
    acknowledged: they are stored at once, not after the handler's wait (an hour
    here), while fewer than a window wait for the rest of it."""
    state = app.state.gateway
    await sent(app, 8, "w")
    handle = state.reminders.handler(state.sessions, window=4, wait=3600)
    first = [delivered(handle, f"w{n}") for n in range(4)]
    assert await asyncio.wait_for(asyncio.gather(*first), 10) == [None] * 4
    alone = delivered(handle, "w4")
    await asyncio.sleep(0.5)
    assert not alone.done()
    rest = [alone, *(delivered(handle, f"w{n}") for n in range(5, 8))]
    assert await asyncio.wait_for(asyncio.gather(*rest), 10) == [None] * 4
    async with transaction(state.sessions) as session:
        states = (await session.execute(select(Reminder.state))).scalars().all()
    assert states == ["delivered"] * 8
