"""Per-process caches of the client registry and the verified signing keys, bounded in
staleness by a change counter in the database.

Every authenticated request needs the caller's current client state (active, roles,
purposes) and the public key its token was signed with. Reading them from the database
on every request is most of a look-up's database work, yet they change a few times a
day. So each process keeps them in memory and re-reads one small row set,
``registry_versions`` (one counter per watched table, bumped by triggers on every insert,
update or delete of ``clients`` and ``signing_keys``; migration 0012), at most every
``refresh_ms`` milliseconds (``GATEWAY_REGISTRY_REFRESH_MS``, default 500). When a
counter has moved, that table's cache is dropped.

The bound: a request that starts ``refresh_ms`` or more after a change was committed (a
client disabled, a grant withdrawn, a key rotated) sees it, in every process on that
database, plus at most the duration of one read of the counters if that read was already
under way. Requests arriving while the counters are being read wait for that read.
``refresh_ms = 0`` reads the counters on every request.

The process that commits such a change does not wait for the bound: a commit whose
session wrote to ``clients`` or ``signing_keys`` (ORM objects or bulk statements) makes
every cache of this process read the counters on its next request (a command run in
the process, such as the CLI's, on an engine of its own included).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from gateway.core.repository import registry_versions, registry_versions_sync


@dataclass(frozen=True)
class ClientState:
    """A client as every authenticated request sees it (``gateway.clients.directory``)."""

    id: str
    name: str
    active: bool
    roles: frozenset[str]
    purposes: frozenset[str]
    token_generation: int


class ClientDirectory(Protocol):
    """The per-request read of a client's state. Declared here, implemented by
    ``gateway.clients.directory`` and wired by ``gateway.state``, so that the core does
    not import the clients feature."""

    @property
    def sync_engine(self) -> Engine | None:
        """The synchronous SQLite engine reads run on in the event loop (None otherwise)."""
        ...

    async def get(self, client_id: str) -> ClientState | None:
        """The client's current state, or None if there is no such client."""
        ...

    def dispose(self) -> None:
        """Release the directory's own connections."""
        ...


CLIENTS = "clients"
SIGNING_KEYS = "signing_keys"
WATCHED = frozenset({CLIENTS, SIGNING_KEYS})
_CHANGED = "registry_changed"
_live: weakref.WeakSet[RegistryVersions] = weakref.WeakSet()


class RegistryVersions:
    """The process's view of ``registry_versions``, at most ``refresh_ms`` old when
    :meth:`fresh` returns. Listeners registered with :meth:`on_change` are told which
    tables moved (all of them on the first read).

    It opens its own read (the directory's synchronous SQLite engine, or a session from
    the factory it is given): it is asked by authentication before any request session
    exists, and by at most one request per ``refresh_ms``, whose session it must not
    depend on."""

    def __init__(
        self,
        directory: ClientDirectory,
        sessions: async_sessionmaker[AsyncSession],
        refresh_ms: int,
    ) -> None:
        self._directory = directory  # its synchronous SQLite engine, when there is one
        self._sessions = sessions
        self.refresh = refresh_ms / 1000
        self._seen: dict[str, int] = {}
        self._checked = -float("inf")
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[set[str]], None]] = []
        self.reads = 0
        _live.add(self)

    def expire(self) -> None:
        """Read the counters on the next request, whatever their age."""
        self._checked = -float("inf")

    def on_change(self, listener: Callable[[set[str]], None]) -> None:
        self._listeners.append(listener)

    async def fresh(self) -> None:
        """Return once the counters were read at most ``refresh_ms`` ago, having told
        the listeners of any change."""
        if time.monotonic() - self._checked < self.refresh:
            return
        async with self._lock:
            if time.monotonic() - self._checked < self.refresh:
                return  # read by the request that held the lock
            started = time.monotonic()
            versions = await self._read()
            self._checked = started
            self.reads += 1
            changed = {name for name, v in versions.items() if self._seen.get(name) != v}
            self._seen = versions
            if changed:
                for listener in self._listeners:
                    listener(changed)

    async def _read(self) -> dict[str, int]:
        sync = self._directory.sync_engine
        if sync is not None:  # SQLite: a read of two rows, cheaper than a thread hop
            with sync.connect() as conn:
                return registry_versions_sync(conn)
        async with self._sessions() as session:
            return await registry_versions(session)


class CachedClients:
    """:class:`ClientDirectory` behind a per-process cache, dropped whenever the
    ``clients`` counter moves. Same answer as the directory: the client's state, or None
    for an unknown id (remembered too, so a flood of unknown ids costs no reads)."""

    MAX_CACHED = 10_000

    def __init__(self, directory: ClientDirectory, versions: RegistryVersions) -> None:
        self.directory = directory
        self.versions = versions
        self._cache: dict[str, ClientState | None] = {}
        # Bumped when the cache is dropped: a read that overlapped a drop may be older
        # than the change that caused it, so it is returned but not kept.
        self._generation = 0
        versions.on_change(self._changed)

    def _changed(self, tables: set[str]) -> None:
        if CLIENTS in tables:
            self._cache.clear()
            self._generation += 1

    async def get(self, client_id: str) -> ClientState | None:
        await self.versions.fresh()
        try:
            return self._cache[client_id]
        except KeyError:
            pass
        generation = self._generation
        state = await self.directory.get(client_id)
        if generation == self._generation:
            if len(self._cache) >= self.MAX_CACHED:
                self._cache.clear()
            self._cache[client_id] = state
        return state

    def dispose(self) -> None:
        self.directory.dispose()


def _table_of(obj: Any) -> str | None:
    table = getattr(type(obj), "__table__", None)
    return getattr(table, "name", None)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if _table_of(obj) in WATCHED:
            session.info[_CHANGED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _bulk(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        mapper = state.bind_mapper
        if mapper is not None and getattr(mapper.local_table, "name", None) in WATCHED:
            state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        for versions in list(_live):
            versions.expire()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)
