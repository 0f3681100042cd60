"""Group commit for audit events of exchanges that change nothing else.

A look-up has no transaction of its own to share, yet its event must be durable before
the answer leaves (fail closed). Committing each event alone makes the database the
bottleneck; instead, events that arrive while a commit is in flight wait and are
written together in the next one. Every caller still returns only after the commit
holding its own event has succeeded, and sees the error if it failed.

A batch is one multi-row ``INSERT`` on a connection in autocommit mode: a single round
trip to the database, which answers once the rows are durably committed (no separate
``BEGIN`` and ``COMMIT``). A flusher keeps its connection for ``linger_seconds`` after
the queue empties, waiting for the next events: under steady traffic a batch costs that
one statement, not a pool checkout, an isolation-level switch, the statement, the
connection's reset and its return.

On SQLite the batch is first tried on a connection of the standard ``sqlite3`` module
in the event loop's own thread, told not to wait for a lock (``busy_timeout`` 0): in WAL
mode with ``synchronous=NORMAL`` the commit is a write to the log, tens of microseconds,
cheaper than the hop to the async driver's thread and back. When another connection
holds the write lock (the sealer, another process), the batch goes the async way, which
waits for the lock in its thread; the event loop never waits.
"""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy.ext.asyncio import AsyncEngine

from audit.events import AuditEvent
from audit.store import append_alone, values_sql


class GroupCommitWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        max_batch: int = 500,
        max_in_flight: int = 1,
        linger_seconds: float = 1.0,
    ) -> None:
        """``engine`` must not share a connection pool with callers that wait here (the
        writer disposes of it on close). ``max_in_flight`` commits may overlap (each on
        its own connection), so a batch is written while the previous one is committing.
        An idle flusher gives its connection back after ``linger_seconds``."""
        self.engine = engine
        self.linger = linger_seconds
        self._arrived = asyncio.Event()
        self._closing = False
        self._sqlite: sqlite3.Connection | None = None
        self._sqlite_path = engine.url.database if engine.dialect.name == "sqlite" else None
        if self._sqlite_path in ("", ":memory:"):
            self._sqlite_path = None  # one in-memory database per connection: no fast path
        self.fast_batches = 0
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
        self._closing = True
        self._arrived.set()  # lingering flushers stop waiting
        try:
            while self._flushers:
                await asyncio.gather(*self._flushers)
        finally:
            self._closing = False
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        await self.engine.dispose()

    async def write(self, event: AuditEvent) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        self._arrived.set()
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
                    if self._sqlite_path is not None:
                        while batch and self._append_in_loop(batch):
                            self.batches += 1
                            self.fast_batches += 1
                            self._settle(batch, None)
                            await asyncio.sleep(0)
                            batch = self._take()
                            if not batch and await self._next_events():
                                batch = self._take()
                        if not batch:
                            continue
                    async with self._autocommit.connect() as conn:
                        while batch:
                            await append_alone(conn, [event for event, _ in batch])
                            self.batches += 1
                            self._settle(batch, None)
                            # The callers just answered queue their next events meanwhile.
                            await asyncio.sleep(0)
                            batch = self._take()
                            if not batch and await self._next_events():
                                batch = self._take()
                except Exception as exc:
                    self._settle(batch, exc)
        except BaseException:  # cancelled: nobody may wait for a batch never written
            self._settle(batch, ConnectionError("the audit writer stopped"))
            raise
        finally:
            self._looking -= 1

    def _append_in_loop(self, batch: list[tuple[AuditEvent, asyncio.Future[None]]]) -> bool:
        """Write the batch on the loop's own SQLite connection unless that would wait
        for a lock; whether it was written (errors other than a busy database raise)."""
        if self._sqlite is None:
            assert self._sqlite_path is not None
            conn = sqlite3.connect(self._sqlite_path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=0")
            self._sqlite = conn
        params = [value for event, _ in batch for value in event.as_values()]
        try:
            self._sqlite.execute(values_sql("sqlite", len(batch)), params)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return False
            raise
        return True

    async def _next_events(self) -> bool:
        """Wait up to ``linger_seconds`` for events to arrive; whether some did."""
        self._arrived.clear()
        if self._closing or self.linger <= 0:
            return False
        try:
            await asyncio.wait_for(self._arrived.wait(), self.linger)
        except TimeoutError:
            return False
        return bool(self._pending)
