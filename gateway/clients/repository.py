from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.clients.models import Client


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
