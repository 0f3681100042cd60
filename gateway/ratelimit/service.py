"""Fixed-window request quotas per client, shared by every process on one database.

The quota of a window (a minute) lives in one database row per client. A process does
not write that row on every request: it takes a block of the quota at a time (a
fiftieth of it) with one guarded update (``used + n <= limit``) and spends the block
locally. So the requests admitted in a window, summed over every process, never exceed
the limit; a process's unspent remainder lapses with the window, so a client spread over
P processes may be admitted up to P blocks fewer than the limit. When the row is full the
request gets 429 with ``Retry-After``: the seconds until the next window.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.core.db import transaction
from gateway.ratelimit.models import RateWindow

EXHAUSTED = -1


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
        self._local: dict[str, tuple[int, int]] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def _take_local(self, client_id: str, window: int) -> bool | None:
        """True: admitted from the local block; False: the window is spent; None: ask."""
        held = self._local.get(client_id)
        if held is None or held[0] != window:
            return None
        if held[1] == EXHAUSTED:
            return False
        if held[1] > 0:
            self._local[client_id] = (window, held[1] - 1)
            return True
        return None

    async def admit(self, client_id: str) -> int | None:
        """None if the request may go on; otherwise the seconds to wait."""
        if self.limit <= 0:
            return None
        now = time.time()
        window = int(now // self.window) * self.window
        retry_after = max(1, math.ceil(window + self.window - now))
        local = self._take_local(client_id, window)
        if local is not None:
            return None if local else retry_after
        async with self._locks[client_id]:
            local = self._take_local(client_id, window)
            if local is not None:
                return None if local else retry_after
            granted = await self._claim(client_id, window)
            if granted == 0:
                self._local[client_id] = (window, EXHAUSTED)
                return retry_after
            self._local[client_id] = (window, granted - 1)
            return None

    async def _claim(self, client_id: str, window: int) -> int:
        """Take up to a block of this window's quota; how much was taken."""
        want = min(self.block, self.limit)
        async with transaction(self.sessions) as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(RateWindow).values(
                client_id=client_id, window_start=window, used=want
            )
            # RETURNING tells whether the row was written (an ORM insert's rowcount is not
            # reliable on every driver): nothing comes back when the guard refused.
            taken = (
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["client_id", "window_start"],
                        set_={"used": RateWindow.used + want},
                        where=RateWindow.used + want <= self.limit,
                    ).returning(RateWindow.used)
                )
            ).scalar_one_or_none()
            if taken is not None:
                if taken == want:  # this claim opened the window
                    await session.execute(  # old windows go when a new one starts
                        delete(RateWindow).where(RateWindow.window_start < window - self.window)
                    )
                return want
            used = (
                await session.execute(
                    select(RateWindow.used).where(
                        RateWindow.client_id == client_id, RateWindow.window_start == window
                    )
                )
            ).scalar_one()
            rest = self.limit - used
            if rest <= 0:
                return 0
            moved = (
                await session.execute(
                    update(RateWindow)
                    .where(
                        RateWindow.client_id == client_id,
                        RateWindow.window_start == window,
                        RateWindow.used == used,
                    )
                    .values(used=used + rest)
                    .returning(RateWindow.used)
                )
            ).scalar_one_or_none()
            return rest if moved is not None else 0
