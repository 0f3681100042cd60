"""The job runner on both databases: backoff, dead letter, lease takeover, metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.db import transaction
from gateway.exchanges.models import ExchangeRun
from gateway.jobs import Done, JobRunner, Retry, backoff
from gateway.jobs.starters import Starter

PARAMS = {"born_from": "2020-05-01", "born_to": "2020-05-31", "ubigeo": []}


class Counting:
    """A job that adds one record per step, finishing after ``steps`` steps, or fails."""

    name = "counting"
    table = ExchangeRun

    def __init__(self, steps: int = 2, fail: bool = False, seconds: float = 0.0) -> None:
        self.key = ExchangeRun.run_id
        self.seconds = seconds
        self.steps = steps
        self.fail = fail
        self.retried: list[int] = []

    async def claimed(self, session: AsyncSession, job_id: str) -> None:
        return None

    async def step(self, session: AsyncSession, job_id: str) -> Done | None:
        if self.fail:
            raise Retry("partner-unavailable")
        await asyncio.sleep(self.seconds)  # a slow partner
        await session.execute(
            update(ExchangeRun)
            .where(ExchangeRun.run_id == job_id)
            .values(records=ExchangeRun.records + 1)
        )
        run = await session.get(ExchangeRun, job_id)
        assert run is not None
        await session.refresh(run)
        return Done("succeeded") if run.records >= self.steps else None

    async def retrying(
        self, session: AsyncSession, job_id: str, attempts: int, reason: str
    ) -> None:
        self.retried.append(attempts)


async def queued(app: FastAPI) -> str:
    state = app.state.gateway
    async with transaction(state.sessions) as session:
        run = await state.exchanges.trigger(session, "reniec-newborns", PARAMS, Starter("test"))
    assert run is not None
    return str(run["id"])


async def row(app: FastAPI, run_id: str) -> ExchangeRun:
    async with transaction(app.state.gateway.sessions) as session:
        found = await session.get(ExchangeRun, run_id)
    assert found is not None
    return found


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_steps_until_done_each_in_its_transaction(app: FastAPI) -> None:
    registry = CollectorRegistry()
    runner = JobRunner(app.state.gateway.sessions, registry)
    runner.register(Counting(steps=3))
    run_id = await queued(app)
    assert await runner.work_available() == 1
    done = await row(app, run_id)
    assert (done.state, done.records, done.lease_owner) == ("succeeded", 3, None)
    assert done.finished_at is not None
    labels = {"job": "counting"}
    assert metric(registry, "gateway_job_steps_total", outcome="continued", **labels) == 2
    assert metric(registry, "gateway_job_steps_total", outcome="finished", **labels) == 1
    assert metric(registry, "gateway_job_claims_total", **labels) == 1


async def test_backoff_then_dead_letter_after_max_attempts(app: FastAPI) -> None:
    registry = CollectorRegistry()
    job = Counting(fail=True)
    runner = JobRunner(app.state.gateway.sessions, registry, max_attempts=3)
    runner.register(job)
    run_id = await queued(app)
    outcomes = []
    for _ in range(3):
        claimed = await runner.claim("counting")
        assert claimed == run_id
        outcomes.append(await runner.work("counting", run_id))
        assert await runner.claim("counting") is None  # backing off
        async with transaction(app.state.gateway.sessions) as session:  # the wait is over
            await session.execute(
                update(ExchangeRun)
                .where(ExchangeRun.run_id == run_id)
                .values(not_before=datetime.now(UTC))
            )
    assert outcomes == ["queued", "queued", "failed"]
    assert job.retried == [1, 2, 3]
    dead = await row(app, run_id)
    assert (dead.state, dead.attempts, dead.last_error) == ("failed", 3, "partner-unavailable")
    assert dead.finished_at is not None
    assert await runner.claim("counting") is None  # the dead letter stays put
    labels = {"job": "counting"}
    assert metric(registry, "gateway_job_steps_total", outcome="retried", **labels) == 2
    assert metric(registry, "gateway_job_steps_total", outcome="dead", **labels) == 1


async def test_a_lost_lease_rolls_the_step_back(app: FastAPI) -> None:
    sessions = app.state.gateway.sessions
    # A lease long enough that the second claim comes within it on a loaded machine.
    first = JobRunner(sessions, CollectorRegistry(), lease_seconds=1.0)
    second = JobRunner(sessions, CollectorRegistry(), lease_seconds=30)
    first.register(Counting(steps=5))
    second.register(Counting(steps=5))
    run_id = await queued(app)
    assert await first.claim("counting") == run_id
    assert await second.claim("counting") is None  # held
    await asyncio.sleep(1.1)  # the first process stalls past its lease
    assert await second.claim("counting") == run_id
    assert await first.work("counting", run_id) == "lease-lost"
    assert (await row(app, run_id)).records == 0  # nothing of the stale step stored
    assert await second.work("counting", run_id) == "succeeded"
    assert (await row(app, run_id)).records == 5


async def test_the_heartbeat_keeps_a_slow_step_s_lease(app: FastAPI) -> None:
    sessions = app.state.gateway.sessions
    slow = JobRunner(sessions, CollectorRegistry(), lease_seconds=0.3)
    other = JobRunner(sessions, CollectorRegistry())
    slow.register(Counting(steps=1, seconds=0.8))
    other.register(Counting(steps=1))
    run_id = await queued(app)
    assert await slow.claim("counting") == run_id
    working = asyncio.create_task(slow.work("counting", run_id))
    for _ in range(3):  # well past the lease, the step still holds it
        await asyncio.sleep(0.25)
        assert await other.claim("counting") is None
    assert await working == "succeeded"
    assert (await row(app, run_id)).records == 1


async def test_periodic_tasks_run_when_due(app: FastAPI) -> None:
    registry = CollectorRegistry()
    runner = JobRunner(app.state.gateway.sessions, registry)
    calls: list[str] = []

    async def every_round(session: AsyncSession) -> int:
        calls.append("round")
        return 1

    async def hourly(session: AsyncSession) -> int:
        calls.append("hourly")
        return 1

    runner.every("round", 0, every_round)
    runner.every("hourly", 3600, hourly, delay_first=True)
    assert await runner.run_due() == 1
    assert await runner.run_due() == 1
    assert calls == ["round", "round"]
    assert metric(registry, "gateway_periodic_runs_total", task="round", outcome="ok") == 2


class Calls:
    """A dispatched kind over in-memory items: records what the runner decides."""

    name = "calls"
    max_attempts = 2
    max_backoff_seconds = 600.0
    in_flight = 1

    def __init__(self, errors: list[str | None]) -> None:
        self.errors = errors
        self.recorded: list[tuple[int, str | None, bool]] = []
        self.attempts = 0

    async def due(self, session: AsyncSession, now: datetime) -> list[Any]:
        return [1]

    async def claim(
        self, session: AsyncSession, item: Any, now: datetime, until: datetime
    ) -> tuple[int, Any] | None:
        assert until > now
        return self.attempts, item

    async def call(self, work: Any) -> str | None:
        return self.errors.pop(0)

    async def record(
        self,
        session: AsyncSession,
        item: Any,
        attempts: int,
        error: str | None,
        next_at: datetime | None,
    ) -> None:
        self.attempts = attempts
        self.recorded.append((attempts, error, next_at is not None))


async def test_dispatch_retries_with_backoff_then_dead_letters(app: FastAPI) -> None:
    registry = CollectorRegistry()
    runner = JobRunner(app.state.gateway.sessions, registry)
    kind = Calls([None, "HTTP 500", "HTTP 500"])
    runner.dispatcher(kind)
    assert runner.dispatched("calls") is kind
    assert await runner.dispatch("calls") == 1
    assert kind.recorded == [(1, None, False)]  # done: no next attempt
    kind.attempts = 0
    assert await runner.dispatch("calls") == 1
    assert kind.recorded[-1] == (1, "HTTP 500", True)  # due again after the backoff
    assert await runner.dispatch("calls") == 1
    assert kind.recorded[-1] == (2, "HTTP 500", False)  # dead after max_attempts
    assert metric(registry, "gateway_job_steps_total", job="calls", outcome="dead") == 1
    assert metric(registry, "gateway_job_steps_total", job="calls", outcome="retried") == 1
    assert backoff(3, 600.0).total_seconds() == 4.0
    assert backoff(30, 600.0).total_seconds() == 600.0


class Overlapping(Calls):
    """Two items whose calls each wait until both are claimed: only a runner holding
    two items at once gets either call through."""

    name = "overlapping"
    max_attempts = 1

    def __init__(self, in_flight: int) -> None:
        super().__init__([])
        self.in_flight = in_flight
        self.claimed: list[Any] = []
        self.both = asyncio.Event()

    async def due(self, session: AsyncSession, now: datetime) -> list[Any]:
        return ["a", "b"]

    async def claim(
        self, session: AsyncSession, item: Any, now: datetime, until: datetime
    ) -> tuple[int, Any] | None:
        self.claimed.append(item)
        if len(self.claimed) == 2:
            self.both.set()
        return 0, item

    async def call(self, work: Any) -> str | None:
        try:
            await asyncio.wait_for(self.both.wait(), 2.0)
        except TimeoutError:
            return "alone"
        return None


async def test_dispatch_claims_the_next_item_while_a_call_is_under_way(app: FastAPI) -> None:
    runner = JobRunner(app.state.gateway.sessions, CollectorRegistry())
    two = Overlapping(in_flight=2)
    runner.dispatcher(two)
    assert await runner.dispatch("overlapping") == 2
    assert two.claimed == ["a", "b"]  # taken in order
    assert two.recorded == [(1, None, False)] * 2  # each call saw the other claimed
    # One at a time, the first call waits in vain: the overlap is the runner's doing.
    one = Overlapping(in_flight=1)
    one.name = "one-at-a-time"
    runner.dispatcher(one)
    assert await runner.dispatch("one-at-a-time") == 2
    assert one.recorded == [(1, "alone", False), (1, None, False)]


class Waiting(Counting):
    """A one-step job that goes on only once ``ready()`` holds (a payment run of minutes
    waiting on the bank); after 5 s it fails the attempt."""

    def __init__(self, ready: Callable[[], bool]) -> None:
        super().__init__(steps=1)
        self.ready = ready

    async def step(self, session: AsyncSession, job_id: str) -> Done | None:
        async with asyncio.timeout(5.0):
            while not self.ready():
                await asyncio.sleep(0.01)
        return await super().step(session, job_id)


class Once(Calls):
    """One item, due until it has been called."""

    name = "once"

    def __init__(self) -> None:
        super().__init__([None])

    async def due(self, session: AsyncSession, now: datetime) -> list[Any]:
        return [] if self.recorded else [1]


async def test_a_long_job_holds_back_no_dispatched_call_nor_timed_task(app: FastAPI) -> None:
    runner = JobRunner(app.state.gateway.sessions, CollectorRegistry())
    seals: list[int] = []
    once = Once()

    async def seal(session: AsyncSession) -> int:
        seals.append(1)
        return 1

    # The job's only step goes on once the call was made and the seal ran three times
    # meanwhile: a runner that waits for the job before either never lets it finish.
    job = Waiting(lambda: bool(once.recorded) and len(seals) >= 3)
    runner.register(job)
    runner.dispatcher(once)
    runner.every("seal", 0.05, seal, delay_first=True)
    run_id = await queued(app)
    loop = asyncio.create_task(runner.run_forever(0.05))
    try:
        for _ in range(200):
            if job.retried or (await row(app, run_id)).state == "succeeded":
                break
            await asyncio.sleep(0.05)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert job.retried == []  # the step did not time out
    assert (await row(app, run_id)).state == "succeeded"
    assert once.recorded == [(1, None, False)]
