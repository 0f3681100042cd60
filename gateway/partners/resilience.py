"""Timeouts, retries, circuit breaker and bulkhead around every partner call.

One :class:`PartnerGuard` per partner. A call waits for a bulkhead slot (bounded wait),
is refused at once while the breaker is open, and is retried with exponential backoff
and jitter only when the error is transient and the operation idempotent: before attempt
n+1 it waits ``min(backoff_max, backoff_initial * 2**(n-1)) + uniform(0, backoff_initial)``
seconds. Every attempt is timed and counted in the partner's health record.

The common call (a free bulkhead slot, success at the first attempt) costs no task, no
timer and no retry state: the bounded wait for a slot and the backoff loop are entered
only when a slot is taken or an attempt failed.

The breaker lives in process memory: it protects the partner and the caller, it decides
nothing about data, so each process keeping its own view is safe.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.partners.errors import (
    BulkheadFull,
    CircuitOpen,
    PartnerContractMismatch,
    PartnerError,
)
from gateway.partners.health import PartnerHealth
from gateway.partners.policy import ResilienceSettings

T = TypeVar("T")

CLOSED, HALF_OPEN, OPEN = "closed", "half-open", "open"


class CircuitBreaker:
    """Opens on N consecutive failures or a failure rate over a window; probes after a
    cool-down with one call at a time (half-open), closing on its success."""

    def __init__(self, policy: ResilienceSettings, clock: Callable[[], float] = time.monotonic):
        self.policy = policy
        self.clock = clock
        self.state = CLOSED
        self.consecutive = 0
        self.window: deque[bool] = deque(maxlen=policy.breaker_window)
        self.opened_at = 0.0
        self.probing = False

    def retry_after(self) -> int:
        remaining = self.opened_at + self.policy.breaker_cooldown_seconds - self.clock()
        return max(1, int(remaining + 0.999))

    def before_call(self) -> bool:
        """True when the call may go; False when it must fail fast."""
        if self.state == OPEN:
            if self.clock() - self.opened_at < self.policy.breaker_cooldown_seconds:
                return False
            self.state = HALF_OPEN
        if self.state == HALF_OPEN:
            if self.probing:
                return False
            self.probing = True
        return True

    def record(self, ok: bool) -> None:
        if self.state == HALF_OPEN:
            self.probing = False
            if ok:
                self._close()
            else:
                self._open()
            return
        self.window.append(ok)
        self.consecutive = 0 if ok else self.consecutive + 1
        failures = self.window.count(False)
        rate_tripped = (
            len(self.window) >= self.policy.breaker_min_calls
            and failures / len(self.window) >= self.policy.breaker_failure_rate
        )
        if self.consecutive >= self.policy.breaker_consecutive_failures or rate_tripped:
            self._open()

    def release_probe(self) -> None:
        """A half-open probe ended without a verdict on the partner's health."""
        if self.state == HALF_OPEN:
            self.probing = False

    def _open(self) -> None:
        self.state = OPEN
        self.opened_at = self.clock()
        self.probing = False

    def _close(self) -> None:
        self.state = CLOSED
        self.consecutive = 0
        self.window.clear()


class PartnerGuard:
    def __init__(self, partner: str, policy: ResilienceSettings, health: PartnerHealth) -> None:
        self.partner = partner
        self.policy = policy
        self.health = health
        self.breaker = CircuitBreaker(policy)
        self.slots = asyncio.Semaphore(policy.max_concurrency)
        self.in_flight = 0
        health.set_breaker(partner, CLOSED)

    async def call(
        self, operation: str, attempt: Callable[[], Awaitable[T]], *, idempotent: bool
    ) -> T:
        attempts = self.policy.retries + 1 if idempotent else 1
        number = 1
        while True:
            try:
                return await self._once(operation, attempt)
            except PartnerError as exc:
                if number >= attempts or not exc.transient:
                    raise
            await asyncio.sleep(self.backoff(number))
            number += 1

    def backoff(self, failed: int) -> float:
        """Seconds to wait after attempt number ``failed`` (1 for the first) failed."""
        initial, ceiling = self.policy.backoff_initial_seconds, self.policy.backoff_max_seconds
        try:
            exponential = float(initial * 2 ** (failed - 1))
        except OverflowError:
            exponential = ceiling
        return max(0.0, min(exponential, ceiling)) + random.uniform(0, initial)

    async def _once(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T:
        if not self.breaker.before_call():
            self.health.record_rejected(self.partner, operation)
            raise CircuitOpen(self.partner, operation, self.breaker.retry_after())
        if self.slots.locked():  # wait for a slot, for a bounded time
            try:
                await asyncio.wait_for(self.slots.acquire(), self.policy.bulkhead_wait_seconds)
            except TimeoutError:
                self.breaker.release_probe()
                raise BulkheadFull(self.partner, operation) from None
        else:  # a free slot is taken at once, without a task and a timer
            await self.slots.acquire()
        self.in_flight += 1
        self.health.set_in_flight(self.partner, self.in_flight)
        started = time.perf_counter()
        try:
            result = await attempt()
        except PartnerError as exc:
            elapsed = time.perf_counter() - started
            # A definite answer (not found, invalid input) is a healthy partner; so, for
            # the breaker, is a complete answer that breaks the contract: the partner is
            # up, and failing fast would only refuse the calls it answers well. Health
            # still counts that answer as a failure, for operators to see.
            healthy = not exc.transient
            self.breaker.record(healthy)
            self.health.record(
                self.partner,
                operation,
                elapsed,
                ok=healthy and not isinstance(exc, PartnerContractMismatch),
                error=exc.slug,
                cause=exc.detail,
            )
            raise
        except BaseException:
            self.breaker.release_probe()
            raise
        else:
            self.breaker.record(True)
            self.health.record(self.partner, operation, time.perf_counter() - started, ok=True)
            return result
        finally:
            self.in_flight -= 1
            self.health.set_in_flight(self.partner, self.in_flight)
            self.health.set_breaker(self.partner, self.breaker.state)
            self.slots.release()
