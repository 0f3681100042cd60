"""Every statement on the replay cache (``idempotency_keys``): claims, completion,
release and the purge of answers past their retention.

The repository runs in the caller's session and never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
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

    async def purge_before(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Delete the records first claimed before ``cutoff`` (answered or not); how
        many (counted, not deleted, when ``dry_run``)."""
        old = IdempotencyRecord.created_at < cutoff
        count = int(
            await self.session.scalar(
                select(func.count()).select_from(IdempotencyRecord).where(old)
            )
            or 0
        )
        if not dry_run:
            await self.session.execute(delete(IdempotencyRecord).where(old))
        return count
