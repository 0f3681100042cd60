from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.signing_keys.models import SigningKey


class SigningKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, kid: str) -> SigningKey | None:
        return await self.session.get(SigningKey, kid)

    async def add(self, key: SigningKey) -> None:
        self.session.add(key)
        await self.session.flush()

    async def newest_active(self) -> SigningKey | None:
        stmt = (
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    async def published(self, retired_after: datetime) -> Sequence[SigningKey]:
        stmt = (
            select(SigningKey)
            .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > retired_after))
            .order_by(SigningKey.created_at, SigningKey.kid)
        )
        return (await self.session.scalars(stmt)).all()

    async def all(self) -> Sequence[SigningKey]:
        stmt = select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)
        return (await self.session.scalars(stmt)).all()

    async def retire_all_except(self, kid: str, when: datetime) -> None:
        await self.session.execute(
            update(SigningKey)
            .where(SigningKey.kid != kid, SigningKey.retired_at.is_(None))
            .values(retired_at=when)
        )
