"""Fixed-window request quotas per client, shared by every process on one database.

The quota of a window (a minute) lives in one database row per client. A process does
not write that row on every request: it takes a block of the quota at a time (a
fiftieth of it) with one guarded update (``used + n <= limit``) and spends the block
locally. So the requests admitted in a window, summed over every process, never exceed
the limit; a process's unspent remainder lapses with the window, so a client spread over
P processes may be admitted up to P blocks fewer than the limit. When the row is full the
request gets 429 with ``Retry-After``: the seconds until the next window.

The next block is claimed in the background once half of the current one is spent, so
a request waits for the database only for the first block of a window (once a minute
per client and process) or when traffic outruns the background claim.

Transactions: a claim is the limiter's own short transaction, opened from the session
factory it is given, by design: it runs before the request's work or in a background
task that outlives the request, and its count must be visible to every process at once
(rolling it back with a failed request would hand out the quota twice). Its statements
are in ``gateway.ratelimit.repository``. On SQLite a claim that finds the database held
by another process past its ``busy_timeout`` is tried again (``CLAIM_ATTEMPTS`` in all)
before the request fails: a claim's statements are one transaction, rolled back when one
of them is refused, so trying it again cannot take the quota twice. A request then waits
at most about 30 s (three busy timeouts of 10 s) for its claim.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from gateway.core.db import database_busy, transaction
from gateway.ratelimit.repository import RateWindowRepository

log = structlog.get_logger("gateway.ratelimit")

CLAIM_ATTEMPTS = 3
"""Tries of one claim on a busy SQLite database, 0.1 s then 0.2 s apart."""


@dataclass
class _Block:
    """What a process holds of one client's window: requests it may still admit, and
    whether the window's row is full (refuse once ``left`` is spent)."""

    window: int
    left: int
    exhausted: bool = False
    refill: asyncio.Task[None] | None = None


class RateLimiter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        per_minute: int,
        window_seconds: int = 60,
    ) -> None:
        self.sessions = sessions
        self.limit = per_minute
        self.window = window_seconds
        self.block = max(1, per_minute // 50)
        self._local: dict[str, _Block] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._refills: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        """Wait for the claims under way (a claimed block lapses with its window)."""
        if self._refills:
            await asyncio.gather(*self._refills, return_exceptions=True)

    async def admit(self, client_id: str) -> int | None:
        """None if the request may go on; otherwise the seconds to wait."""
        if self.limit <= 0:
            return None
        now = time.time()
        window = int(now // self.window) * self.window
        retry_after = max(1, math.ceil(window + self.window - now))
        while True:
            held = self._local.get(client_id)
            if held is not None and held.window == window:
                if held.left > 0:
                    held.left -= 1
                    if held.left * 2 < self.block and not held.exhausted and held.refill is None:
                        held.refill = asyncio.create_task(self._refill(client_id, held))
                        self._refills.add(held.refill)
                        held.refill.add_done_callback(self._refills.discard)
                    return None
                if held.exhausted:
                    return retry_after
                if held.refill is not None:  # the next block is on its way
                    await asyncio.shield(held.refill)
                    continue
            async with self._locks[client_id]:
                held = self._local.get(client_id)
                if (
                    held is not None
                    and held.window == window
                    and (held.left > 0 or held.exhausted or held.refill is not None)
                ):
                    continue
                granted = await self._claim(client_id, window)
                self._local[client_id] = _Block(window, granted, exhausted=granted == 0)

    async def _refill(self, client_id: str, held: _Block) -> None:
        try:
            want = min(self.block, self.limit)
            granted = await self._claim(client_id, held.window)
            held.left += granted
            held.exhausted = granted < want  # the row had less than a block left
        except Exception:  # the next request that finds the block spent claims itself
            log.warning("rate_limit_claim_failed", client_id=client_id)
        finally:
            held.refill = None

    async def _claim(self, client_id: str, window: int) -> int:
        """Take up to a block of this window's quota; how much was taken. A busy SQLite
        database (``gateway.core.db.database_busy``) is tried again, at most
        ``CLAIM_ATTEMPTS`` times in all; the last refusal is raised."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(database_busy),
            stop=stop_after_attempt(CLAIM_ATTEMPTS),
            wait=wait_exponential(multiplier=0.1, max=2.0),
            reraise=True,
        ):
            with attempt:
                return await self._claim_once(client_id, window)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _claim_once(self, client_id: str, window: int) -> int:
        want = min(self.block, self.limit)
        async with transaction(self.sessions) as session:
            windows = RateWindowRepository(session)
            taken = await windows.take(client_id, window, want, self.limit)
            if taken is not None:
                if taken == want:  # this claim opened the window
                    await windows.purge_before(window - self.window)  # old windows go now
                return want
            used = await windows.used(client_id, window)
            rest = self.limit - used
            if rest <= 0:
                return 0
            return rest if await windows.move(client_id, window, used, used + rest) else 0
