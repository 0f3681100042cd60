"""Every statement on the ``clients`` table.

``ClientRepository`` runs in the caller's session and never commits. The per-request
read of a client's current state (``gateway.clients.directory``) is the hottest query
of the gateway: it is one Core select by primary key built once at import
(:data:`CLIENT_STATE`), run on a synchronous connection (SQLite) or an async session.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Row, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.clients.models import Client

if TYPE_CHECKING:
    StateRow = Row[str, str, bool, list[str], list[str], int]

# Built once at import, not per request: the hottest path skips building the statement.
CLIENT_STATE = select(
    Client.id,
    Client.name,
    Client.active,
    Client.roles,
    Client.purposes,
    Client.token_generation,
).where(Client.id == bindparam("client_id"))


def client_state_sync(conn: Connection, client_id: str) -> StateRow | None:
    """The client's ``id, name, active, roles, purposes, token_generation``, or None
    for an unknown id."""
    return conn.execute(CLIENT_STATE, {"client_id": client_id}).first()


async def client_state(session: AsyncSession, client_id: str) -> StateRow | None:
    """:func:`client_state_sync` in an async session."""
    return (await session.execute(CLIENT_STATE, {"client_id": client_id})).first()


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, client_id: str) -> Client | None:
        return await self.session.get(Client, client_id)

    async def add(self, client: Client) -> None:
        self.session.add(client)
        await self.session.flush()

    async def list(self) -> Sequence[Client]:
        result = await self.session.scalars(select(Client).order_by(Client.created_at, Client.id))
        return result.all()

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(Client)) or 0)

    async def lock_registry(self) -> None:
        """Serialise changes to who is active until the transaction ends.

        PostgreSQL: a table lock that conflicts only with itself (plain reads, token
        issuance included, go on). SQLite: nothing to do, a write transaction already
        excludes every other writer.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(text("LOCK TABLE clients IN SHARE ROW EXCLUSIVE MODE"))

    async def active_admin_ids(self) -> set[str]:
        rows = await self.session.execute(
            select(Client.id, Client.roles).where(Client.active.is_(True))
        )
        return {row.id for row in rows if "admin" in row.roles}

    async def names(self, ids: Collection[str]) -> dict[str, str]:
        """The names of these clients, by id (unknown ids are absent)."""
        rows = await self.session.execute(select(Client.id, Client.name).where(Client.id.in_(ids)))
        return {row.id: row.name for row in rows}
