from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.idempotency.models import IdempotencyRecord


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, client_id: str, key: str) -> IdempotencyRecord | None:
        return await self.session.get(IdempotencyRecord, (client_id, key))

    async def add(self, record: IdempotencyRecord) -> None:
        self.session.add(record)
        await self.session.flush()

    async def take_over(
        self, client_id: str, key: str, stale_before: datetime, now: datetime
    ) -> bool:
        """Claim an abandoned pending record; True when this caller now owns it."""
        result = await self.session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.client_id == client_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.completed_at.is_(None),
                IdempotencyRecord.created_at < stale_before,
            )
            .values(created_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def complete(
        self, client_id: str, key: str, status: int, sealed: bytes, now: datetime
    ) -> None:
        await self.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key)
            .values(status_code=status, response_sealed=sealed, completed_at=now)
        )

    async def release(self, client_id: str, key: str) -> None:
        await self.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.client_id == client_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.completed_at.is_(None),
            )
        )
