"""Group commit for audit events of exchanges that change nothing else.

A look-up has no transaction of its own to share, yet its event must be durable before
the answer leaves (fail closed). Committing each event alone makes the database the
bottleneck; instead, events that arrive while a commit is in flight wait and are
written together in the next one. Every caller still returns only after the commit
holding its own event has succeeded, and sees the error if it failed.

A batch is one multi-row ``INSERT`` on a connection in autocommit mode: a single round
trip to the database, which answers once the rows are durably committed (no separate
``BEGIN`` and ``COMMIT``).
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from audit.events import AuditEvent
from audit.store import append_alone


class GroupCommitWriter:
    def __init__(self, engine: AsyncEngine, max_batch: int = 500, max_in_flight: int = 1) -> None:
        """``engine`` must not share a connection pool with callers that wait here (the
        writer disposes of it on close). ``max_in_flight`` commits may overlap (each on
        its own connection), so a batch is written while the previous one is committing."""
        self.engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._pending: list[tuple[AuditEvent, asyncio.Future[None]]] = []
        self._flushers: set[asyncio.Task[None]] = set()
        # Flushers that will still look at the queue before they stop (a task that has
        # decided to stop may still be closing its connection: it no longer counts).
        self._looking = 0
        self.batches = 0

    async def aclose(self) -> None:
        while self._flushers:
            await asyncio.gather(*self._flushers)
        await self.engine.dispose()

    async def write(self, event: AuditEvent) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        if self._looking < self.max_in_flight:
            self._looking += 1
            task = asyncio.create_task(self._flush())
            self._flushers.add(task)
            task.add_done_callback(self._flushers.discard)
        await future

    def _take(self) -> list[tuple[AuditEvent, asyncio.Future[None]]]:
        batch = self._pending[: self.max_batch]
        del self._pending[: self.max_batch]
        return batch

    def _settle(
        self, batch: list[tuple[AuditEvent, asyncio.Future[None]]], error: Exception | None
    ) -> None:
        for _, future in batch:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:  # every waiter learns its event was not stored
                future.set_exception(error)

    async def _flush(self) -> None:
        """Write batches on one connection while events keep coming; after a failure,
        the next batch gets a fresh connection. The queue is checked for the last time
        with no pause before the flusher stops counting itself, so no event is left
        behind without a flusher."""
        batch: list[tuple[AuditEvent, asyncio.Future[None]]] = []
        try:
            while self._pending:
                batch = self._take()
                try:
                    async with self._autocommit.connect() as conn:
                        while batch:
                            await append_alone(conn, [event for event, _ in batch])
                            self.batches += 1
                            self._settle(batch, None)
                            # The callers just answered queue their next events meanwhile.
                            await asyncio.sleep(0)
                            batch = self._take()
                except Exception as exc:
                    self._settle(batch, exc)
        except BaseException:  # cancelled: nobody may wait for a batch never written
            self._settle(batch, ConnectionError("the audit writer stopped"))
            raise
        finally:
            self._looking -= 1
