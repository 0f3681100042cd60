"""The per-request read of a client's current state: active flag, roles, purposes.

Every authenticated request reads it, so a disabled client is refused at once, a
withdrawn grant stops applying at once, and tokens of an older generation (issued before
the secret was rotated or the client disabled) stop working at once, in every process.
It is the hottest query of the gateway, so it is a prebuilt Core select by primary key
(``gateway.clients.repository.CLIENT_STATE``).
On SQLite it runs directly in the event loop's thread: a primary-key read takes
microseconds and, in WAL mode, never waits for a writer, which is far cheaper than the
thread hop of the async driver. Other databases use the async engine.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.clients.repository import client_state, client_state_sync
from gateway.core.db import sqlite_pragmas, sync_url
from gateway.core.registry import ClientState


def _state(row: Any) -> ClientState | None:
    if row is None:
        return None
    return ClientState(
        row.id,
        row.name,
        bool(row.active),
        frozenset(row.roles),
        frozenset(row.purposes),
        int(row.token_generation),
    )


class ClientDirectory:
    """Implements ``gateway.core.registry.ClientDirectory`` over the ``clients`` table.

    It opens its own read (a connection of the synchronous SQLite engine, or a session
    from the factory it is given): it runs in authentication, before any request
    session exists, and a one-row read must not wait for one."""

    def __init__(self, database_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._sync: Engine | None = None
        if make_url(database_url).get_backend_name() == "sqlite":
            self._sync = create_engine(sync_url(database_url))
            event.listen(self._sync, "connect", sqlite_pragmas)

    @property
    def sync_engine(self) -> Engine | None:
        """The synchronous SQLite engine reads run on in the event loop (None otherwise)."""
        return self._sync

    async def get(self, client_id: str) -> ClientState | None:
        if self._sync is not None:
            with self._sync.connect() as conn:
                return _state(client_state_sync(conn, client_id))
        async with self.sessions() as session:
            return _state(await client_state(session, client_id))

    def dispose(self) -> None:
        if self._sync is not None:
            self._sync.dispose()
