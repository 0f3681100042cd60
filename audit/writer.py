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
    def __init__(self, sessions: async_sessionmaker[AsyncSession], max_batch: int = 500) -> None:
        """``sessions`` must not share a connection pool with callers that wait here."""
        self.sessions = sessions
        self.max_batch = max_batch
        self._pending: list[tuple[AuditEvent, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0

    async def aclose(self) -> None:
        if self._flusher is not None:
            await self._flusher
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            await bind.dispose()

    async def write(self, event: AuditEvent) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
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
