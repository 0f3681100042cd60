"""Group commit for audit events of exchanges that change nothing else.

A look-up has no transaction of its own to share, yet its event must be durable before
the answer leaves (fail closed). Committing each event alone makes the database the
bottleneck; instead, events that arrive while a commit is in flight wait and are
written together in the next one. Every caller still returns only after the commit
holding its own event has succeeded, and sees the error if it failed.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.events import AuditEvent
from audit.store import append_many


class GroupCommitWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        max_batch: int = 500,
        max_in_flight: int = 1,
    ) -> None:
        """``sessions`` must not share a connection pool with callers that wait here.
        ``max_in_flight`` commits may overlap (each on its own connection), so a batch
        is written while the previous one waits for its commit."""
        self.sessions = sessions
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._pending: list[tuple[AuditEvent, asyncio.Future[None]]] = []
        self._flushers: set[asyncio.Task[None]] = set()
        self.batches = 0

    async def aclose(self) -> None:
        while self._flushers:
            await asyncio.gather(*self._flushers)
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            await bind.dispose()

    async def write(self, event: AuditEvent) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        # A flusher that has finished its loop is done, even before its callback ran.
        if sum(not t.done() for t in self._flushers) < self.max_in_flight:
            task = asyncio.create_task(self._flush())
            self._flushers.add(task)
            task.add_done_callback(self._flushers.discard)
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                async with self.sessions() as session, session.begin():
                    await append_many(session, [event for event, _ in batch])
            except Exception as exc:  # every waiter learns its event was not stored
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                self.batches += 1
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
