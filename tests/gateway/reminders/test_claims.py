"""Claims of due reminders on the database under test: two processes claiming at once
share the queue without overlap, the longest due go first, and a claim that ran out is
taken again and marked so (its submission is then a replacing resend)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import update

from gateway.core.db import transaction
from gateway.reminders.models import Reminder
from gateway.reminders.repository import ReminderRepository


async def queue(app: FastAPI, count: int) -> list[str]:
    """``count`` reminders queued, due one second apart, oldest first; their keys."""
    state = app.state.gateway
    rows = [
        {"reminder_key": f"2020-11:{n:06d}", "dni": f"4{n:07d}", "phone": f"9{n:08d}"}
        for n in range(count)
    ]
    async with transaction(state.sessions) as session:
        await state.reminders.accept(
            session, "programme", "health-follow-up", "law-29733-art14",
            "claims", "pending-service", rows,
        )  # fmt: skip
        start = datetime.now(UTC) - timedelta(hours=1)
        for n, row in enumerate(reversed(rows)):  # the last key is the longest due
            await session.execute(
                update(Reminder)
                .where(Reminder.reminder_key == row["reminder_key"])
                .values(next_at=start + timedelta(seconds=n))
            )
    return [row["reminder_key"] for row in reversed(rows)]


async def claim(app: FastAPI, limit: int, now: datetime) -> list[tuple[str, bool]]:
    async with transaction(app.state.gateway.sessions) as session:
        taken = await ReminderRepository(session).claim_next(
            now, now + timedelta(seconds=30), limit
        )
    return [(row.reminder_key, ran_out) for row, ran_out in taken]


async def test_two_claims_at_once_share_the_queue_without_overlap(app: FastAPI) -> None:
    keys = await queue(app, 300)
    now = datetime.now(UTC)
    first, second = await asyncio.gather(claim(app, 200, now), claim(app, 200, now))
    taken = [key for key, _ in first + second]
    assert len(taken) == len(set(taken)) == 300  # every reminder once, none twice
    assert sorted(len(c) for c in (first, second)) == [100, 200]
    assert not any(ran_out for _, ran_out in first + second)
    assert await claim(app, 200, now) == []  # taken until the claims run out
    # The claim that went first took the longest due.
    longest = first if len(first) == 200 else second
    assert sorted(key for key, _ in longest) == sorted(keys[:200])


async def test_a_claim_that_ran_out_is_taken_first_and_marked(app: FastAPI) -> None:
    keys = await queue(app, 5)
    now = datetime.now(UTC)
    assert set(await claim(app, 2, now)) == {(keys[0], False), (keys[1], False)}
    # Before the claim's 30 s run out, only the queue is taken; after, the two come back
    # first, marked as ran out (the SMSC may hold their submission).
    assert await claim(app, 1, now + timedelta(seconds=10)) == [(keys[2], False)]
    later = await claim(app, 3, now + timedelta(seconds=31))
    assert set(later) == {(keys[0], True), (keys[1], True), (keys[3], False)}
