"""The runner: claims leased jobs, runs their steps in transactions it owns, retries,
dead-letters, runs periodic tasks, and counts it all.

A leased job is a row in a table with the lease columns (``state``, ``not_before``,
``lease_owner``, ``lease_expires_at``, ``attempts``, ``last_error``, ``created_at``,
``finished_at``). Working it is a sequence of steps; each step runs in one transaction
that also renews the lease under the owner's guard, so a step whose lease was taken
over by another process is rolled back whole; while a step runs, a heartbeat renews
the lease every third of its length, so a slow partner call does not lose it.

A step returns ``None`` to go on, ``Done(state)`` when the job has finished, or raises
``Retry(reason)`` for a transient failure: the job is queued again after
``min(300, 0.5 * 2**attempts)`` seconds, and after ``max_attempts`` failed attempts it
is left ``failed`` (the dead letter, kept for inspection and purged with its data).
Any other exception counts as a failed attempt too, named by its type (never its text,
which may carry personal data).

(Over 400 lines because the three kinds of job below share one claim, backoff, metrics
and loop; split apart, that one policy would be in three places again.)

A dispatched job (``Dispatch``) is one call to the outside, such as a subscriber's
webhook, which no transaction may stay open across: the runner lists what is due and
claims one item in a transaction, makes the call with no transaction open, and records
the outcome in another; failed calls are retried with the same exponential backoff
(``backoff``) and dead-lettered after the kind's ``max_attempts``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.core.db import transaction
from gateway.jobs import leases

log = structlog.get_logger("gateway.jobs")


class Retry(Exception):  # noqa: N818 - an instruction to the runner, not an error
    """A transient failure: try the job again later. ``reason`` is a slug, never data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Done:
    """The job has finished in ``state`` (e.g. ``succeeded``, ``done``)."""

    state: str


class LeasedJob(Protocol):
    """A kind of job with a row of its own, claimed with a lease."""

    name: str  # the metric label and the name to work it by
    table: Any  # the mapped class with the lease columns
    key: Any  # its primary key column

    async def claimed(self, session: AsyncSession, job_id: str) -> None:
        """Called in the claim's transaction (e.g. to stamp ``started_at``)."""

    async def step(self, session: AsyncSession, job_id: str) -> Done | None:
        """One unit of work, written in ``session``; ``Retry`` for a transient failure."""

    async def retrying(
        self, session: AsyncSession, job_id: str, attempts: int, reason: str
    ) -> None:
        """Called in the transaction that records a failed attempt (e.g. to audit it)."""


@dataclass
class Periodic:
    """A task run every ``every_seconds`` (0: every round) in a session the runner owns;
    ``delay_first`` waits one period before the first run. Returns how much it did."""

    name: str
    every_seconds: float
    run: Callable[[AsyncSession], Awaitable[int]]
    delay_first: bool = False
    next_at: float = field(default=0.0)


def backoff(attempts: int, cap_seconds: float = 300.0) -> timedelta:
    """How long to wait after ``attempts`` failed attempts: 0.5 s doubling, at most
    ``cap_seconds``."""
    return timedelta(seconds=min(cap_seconds, 0.5 * 2**attempts))


class Dispatch(Protocol):
    """A kind of job whose work is one call to the outside made with no transaction
    open. Its rows keep their own columns; the runner decides attempts and backoff."""

    name: str  # the metric label and the name to dispatch it by
    max_attempts: int  # failed calls before the item is dead
    max_backoff_seconds: float  # the cap of the backoff between calls
    # Items one process has in hand at once: with 2, the next item is claimed (and the
    # last recorded) while another's call is under way, so that the partner is not left
    # idle during the transactions, which on SQLite may wait for the other processes'.
    in_flight: int

    async def due(self, session: AsyncSession, now: datetime) -> list[Any]:
        """Ids of the items due at ``now``, oldest first."""

    async def claim(
        self, session: AsyncSession, item: Any, now: datetime, until: datetime
    ) -> tuple[int, Any] | None:
        """Take a due item until ``until`` so one process calls for it; its attempts so
        far and what the call needs, or None when another took it first."""

    async def call(self, work: Any) -> str | None:
        """The call itself, no database work: None on success, else an error slug."""

    async def record(
        self,
        session: AsyncSession,
        item: Any,
        attempts: int,
        error: str | None,
        next_at: datetime | None,
    ) -> None:
        """Store an outcome with the attempts now made: done (``error`` None), due again
        at ``next_at``, or dead (``error`` set, ``next_at`` None)."""


class LeaseLost(Exception):  # noqa: N818 - a fact, raised by the runner or by a step
    """Another process holds the job now: the step's writes are rolled back."""


class JobRunner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        metrics: CollectorRegistry,
        lease_seconds: float = 30.0,
        max_attempts: int = 12,
    ) -> None:
        self.sessions = sessions
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.owner = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._jobs: dict[str, LeasedJob] = {}
        self._periodic: dict[str, Periodic] = {}
        self._dispatch: dict[str, Dispatch] = {}
        self._steps = Counter(
            "gateway_job_steps_total",
            "Steps of leased jobs by outcome (continued, finished, retried, dead, lease-lost).",
            ["job", "outcome"],
            registry=metrics,
        )
        self._claims = Counter(
            "gateway_job_claims_total", "Jobs claimed by this process.", ["job"], registry=metrics
        )
        self._seconds = Histogram(
            "gateway_job_step_seconds", "Duration of one job step.", ["job"], registry=metrics
        )
        self._tasks = Counter(
            "gateway_periodic_runs_total",
            "Runs of periodic tasks by outcome (ok, error).",
            ["task", "outcome"],
            registry=metrics,
        )

    # -- registration ----------------------------------------------------------------

    def _free(self, name: str) -> None:
        if name in self._jobs or name in self._periodic or name in self._dispatch:
            raise ValueError(f"job {name} is already registered")

    def register(self, job: LeasedJob) -> None:
        self._free(job.name)
        self._jobs[job.name] = job

    def dispatcher(self, kind: Dispatch) -> None:
        """Register a kind of dispatched job (dispatched in a loop of its own by
        ``run_forever``)."""
        self._free(kind.name)
        self._dispatch[kind.name] = kind

    def dispatched(self, name: str) -> Dispatch:
        """The registered kind of dispatched job called ``name`` (KeyError if none)."""
        return self._dispatch[name]

    def every(
        self,
        name: str,
        seconds: float,
        run: Callable[[AsyncSession], Awaitable[int]],
        *,
        delay_first: bool = False,
    ) -> None:
        self._free(name)
        start = time.monotonic() + (seconds if delay_first else 0.0)
        self._periodic[name] = Periodic(name, seconds, run, delay_first, start)

    # -- leased jobs -----------------------------------------------------------------

    async def claim(self, name: str) -> str | None:
        """Claim the oldest ready job of this kind; None when none is ready."""
        job = self._jobs[name]
        async with transaction(self.sessions) as session:
            job_id = await leases.claim(session, job.table, job.key, self.owner, self.lease)
            if job_id is not None:
                await job.claimed(session, job_id)
        if job_id is not None:
            self._claims.labels(name).inc()
        return job_id

    async def work(self, name: str, job_id: str) -> str:
        """Carry a claimed job step by step as far as it goes; its state afterwards, or
        ``lease-lost`` when another process took it over."""
        job = self._jobs[name]
        while True:
            started = time.perf_counter()
            stop = asyncio.Event()
            beat = asyncio.create_task(self._heartbeat(job, job_id, stop))
            try:
                async with transaction(self.sessions) as session:
                    done = await job.step(session, job_id)
                    now = datetime.now(UTC)
                    values: dict[str, Any] = {"lease_expires_at": now + self.lease}
                    if done is not None:
                        values.update(
                            state=done.state,
                            finished_at=now,
                            lease_owner=None,
                            lease_expires_at=None,
                        )
                    if not await leases.hold(
                        session, job.table, job.key, job_id, self.owner, **values
                    ):
                        raise LeaseLost
            except LeaseLost:
                self._steps.labels(name, "lease-lost").inc()
                return "lease-lost"
            except Retry as exc:
                return await self._retry(job, job_id, exc.reason)
            except Exception as exc:  # an unforeseen failure is a failed attempt too
                # The type only: an exception's text may quote personal data.
                log.warning("job step failed", job=name, job_id=job_id, error=type(exc).__name__)
                return await self._retry(job, job_id, type(exc).__name__)
            finally:
                stop.set()  # let a renewal under way finish rather than cut it off
                await beat
                self._seconds.labels(name).observe(time.perf_counter() - started)
            if done is not None:
                self._steps.labels(name, "finished").inc()
                return done.state
            self._steps.labels(name, "continued").inc()

    async def _heartbeat(self, job: LeasedJob, job_id: str, stop: asyncio.Event) -> None:
        """Renew the lease every third of it while a step runs (a partner call may take
        longer than the lease) until ``stop`` is set or the lease is gone."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.lease.total_seconds() / 3)
                return
            except TimeoutError:
                pass
            try:
                async with transaction(self.sessions) as session:
                    held = await leases.hold(
                        session,
                        job.table,
                        job.key,
                        job_id,
                        self.owner,
                        lease_expires_at=datetime.now(UTC) + self.lease,
                    )
            except Exception as exc:  # the step's own renewal still guards its writes
                log.warning("heartbeat failed", job=job.name, error=type(exc).__name__)
                continue
            if not held:
                return

    async def _retry(self, job: LeasedJob, job_id: str, reason: str) -> str:
        now = datetime.now(UTC)
        try:
            async with transaction(self.sessions) as session:
                attempts = await leases.attempts(session, job.table, job.key, job_id) + 1
                dead = attempts >= self.max_attempts
                await job.retrying(session, job_id, attempts, reason)
                if not await leases.hold(
                    session,
                    job.table,
                    job.key,
                    job_id,
                    self.owner,
                    state="failed" if dead else "queued",
                    attempts=attempts,
                    last_error=reason[:200],
                    not_before=now + backoff(attempts),
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now if dead else None,
                ):
                    raise LeaseLost
        except LeaseLost:
            self._steps.labels(job.name, "lease-lost").inc()
            return "lease-lost"
        self._steps.labels(job.name, "dead" if dead else "retried").inc()
        log.warning("job postponed", job=job.name, job_id=job_id, attempts=attempts, error=reason)
        return "failed" if dead else "queued"

    async def work_available(self, names: Iterable[str] | None = None) -> int:
        """Claim and work jobs of these kinds (default: all) until none is ready; returns
        how many were worked."""
        worked = 0
        for name in list(names if names is not None else self._jobs):
            while (job_id := await self.claim(name)) is not None:
                await self.work(name, job_id)
                worked += 1
        return worked

    # -- dispatched jobs -------------------------------------------------------------

    async def dispatch(self, name: str) -> int:
        """Call once for every due item of this kind; how many calls were made. Each
        claim and each outcome is its own transaction; none is open during a call. Up
        to the kind's ``in_flight`` items are in hand at once, taken in order, each by
        one of as many lanes; a lane whose claim or record fails stops there, the others
        go on to the end of the list, and the failure is raised then (the item it held
        is due again when its claim runs out)."""
        kind = self._dispatch[name]
        now = datetime.now(UTC)
        async with transaction(self.sessions) as session:
            due = await kind.due(session, now)
        items = iter(due)
        called = 0

        async def take_in_turn() -> None:
            nonlocal called
            for item in items:  # one iterator: each item goes to one of the lanes
                made = await self._dispatch_one(name, kind, item, now)
                called += made  # after the await: the other lanes add to it meanwhile

        lanes = max(1, min(kind.in_flight, len(due)))
        ended = await asyncio.gather(
            *(take_in_turn() for _ in range(lanes)), return_exceptions=True
        )
        for outcome in ended:
            if isinstance(outcome, BaseException):
                raise outcome
        return called

    async def _dispatch_one(self, name: str, kind: Dispatch, item: Any, now: datetime) -> int:
        """Claim, call and record one item; 1 when it was called, 0 when another
        process had taken it."""
        async with transaction(self.sessions) as session:
            claimed = await kind.claim(session, item, now, now + self.lease)
        if claimed is None:
            return 0
        self._claims.labels(name).inc()
        started = time.perf_counter()
        attempts, work = claimed
        try:
            error = await kind.call(work)
        except Exception as exc:  # the type only: its text may quote personal data
            error = type(exc).__name__
        self._seconds.labels(name).observe(time.perf_counter() - started)
        attempts += 1  # every call counts, the successful one too
        dead = error is not None and attempts >= kind.max_attempts
        next_at = None
        if error is not None and not dead:
            next_at = datetime.now(UTC) + backoff(attempts, kind.max_backoff_seconds)
        async with transaction(self.sessions) as session:
            await kind.record(session, item, attempts, error, next_at)
        outcome = "finished" if error is None else "dead" if dead else "retried"
        self._steps.labels(name, outcome).inc()
        return 1

    async def dispatch_all(self, names: Iterable[str] | None = None) -> int:
        """Dispatch every kind (of ``names``); a failing kind is logged and tried again
        next round."""
        called = 0
        for name in list(names if names is not None else self._dispatch):
            try:
                called += await self.dispatch(name)
            except Exception as exc:  # the type only: its text may quote personal data
                log.warning("dispatch failed", job=name, error=type(exc).__name__)
        return called

    # -- periodic tasks --------------------------------------------------------------

    async def run_task(self, name: str) -> int:
        """Run one periodic task now, in a transaction of its own."""
        task = self._periodic[name]
        task.next_at = time.monotonic() + task.every_seconds
        try:
            async with transaction(self.sessions) as session:
                done = await task.run(session)
        except Exception:
            self._tasks.labels(name, "error").inc()
            raise
        self._tasks.labels(name, "ok").inc()
        return done

    async def run_due(self, names: Iterable[str] | None = None) -> int:
        """Run every periodic task (of ``names``) whose time has come; a failing task is
        logged and tried again next time."""
        done = 0
        now = time.monotonic()
        for name in list(names if names is not None else self._periodic):
            if self._periodic[name].next_at > now:
                continue
            try:
                done += await self.run_task(name)
            except Exception as exc:  # the type only: its text may quote personal data
                log.warning("periodic task failed", task=name, error=type(exc).__name__)
        return done

    # -- the loop --------------------------------------------------------------------

    async def run_forever(self, poll_seconds: float, only: set[str] | None = None) -> None:
        """Run the periodic tasks, the dispatched kinds and the leased kinds (all, or those
        named in ``only``) until cancelled, each in a loop of its own, so that none waits
        for another: a payment run of 25,000 transfers, worked for minutes, holds back
        neither the reminders and webhook deliveries due meanwhile, nor a job of another
        kind, nor the audit seal and the SMS bind's keep-alive.

        - Periodic tasks: every ``poll_seconds`` those of period 0, and each timed task
          (the audit seal's 0.5 s) on its own period.
        - A dispatched kind: dispatched again at once after a round that made calls (a
          backlog, such as a month's reminders, is sent at the partner's pace, not one
          round per poll), else after ``poll_seconds``.
        - A leased kind: its ready jobs worked one after another, then ``poll_seconds``.

        A failing round is logged (by its exception's type) and tried again."""
        periodic = [n for n in self._periodic if only is None or n in only]
        loops = [self._periodic_loop(periodic, poll_seconds)] if periodic else []
        loops += [
            self._dispatch_loop(n, poll_seconds)
            for n in self._dispatch
            if only is None or n in only
        ]
        loops += [self._job_loop(n, poll_seconds) for n in self._jobs if only is None or n in only]
        await asyncio.gather(*loops)

    async def _periodic_loop(self, names: list[str], poll_seconds: float) -> None:
        timed = [n for n in names if self._periodic[n].every_seconds > 0]
        next_poll = time.monotonic()
        while True:
            full = time.monotonic() >= next_poll
            if full:
                next_poll = time.monotonic() + poll_seconds
            await self.run_due(names if full else timed)  # logs a failing task itself
            wake = min([next_poll, *(self._periodic[n].next_at for n in timed)])
            await asyncio.sleep(max(0.0, wake - time.monotonic()))

    async def _dispatch_loop(self, name: str, poll_seconds: float) -> None:
        while True:
            called = await self.dispatch_all([name])  # logs a failing round itself
            # Even a round that made calls yields once: the other loops share the process.
            await asyncio.sleep(0.0 if called else poll_seconds)

    async def _job_loop(self, name: str, poll_seconds: float) -> None:
        while True:
            try:
                await self.work_available([name])
            except Exception as exc:  # the type only: its text may quote personal data
                log.warning("job round failed", job=name, error=type(exc).__name__)
            await asyncio.sleep(poll_seconds)
