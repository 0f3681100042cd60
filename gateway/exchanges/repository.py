"""Every statement on the exchange tables (runs and their sealed chunks).

The caller's session carries the transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.exchanges.models import ExchangeChunk, ExchangeRun


class ExchangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_run(self, values: dict[str, Any]) -> bool:
        """Insert a run; False (and nothing stored) when its slot is already taken."""
        if values.get("slot") is None:
            self.session.add(ExchangeRun(**values))
            await self.session.flush()
            return True
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stored = await self.session.execute(
            insert(ExchangeRun)
            .values(values)
            .on_conflict_do_nothing(index_elements=["slot"])
            .returning(ExchangeRun.run_id)
        )
        # RETURNING, not rowcount: asyncpg reports no row count for this statement
        return stored.scalar() is not None

    async def get(self, run_id: str) -> ExchangeRun | None:
        return await self.session.get(ExchangeRun, run_id)

    async def recent(self, name: str, limit: int) -> Sequence[ExchangeRun]:
        return (
            (
                await self.session.execute(
                    select(ExchangeRun)
                    .where(ExchangeRun.name == name)
                    .order_by(ExchangeRun.created_at.desc())
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )

    async def runs(
        self, limit: int, *, name: str | None = None, state: str | None = None
    ) -> Sequence[ExchangeRun]:
        """The newest runs first, of every exchange or of ``name``, in ``state`` if given."""
        query = select(ExchangeRun).order_by(ExchangeRun.created_at.desc(), ExchangeRun.run_id)
        if name is not None:
            query = query.where(ExchangeRun.name == name)
        if state is not None:
            query = query.where(ExchangeRun.state == state)
        return (await self.session.execute(query.limit(limit))).scalars().all()

    async def chunks(
        self, run_id: str, first: int = 0, count: int | None = None
    ) -> Sequence[ExchangeChunk]:
        """Stored chunks of a run from chunk ``first``, in order (all without ``count``)."""
        query = (
            select(ExchangeChunk)
            .where(ExchangeChunk.run_id == run_id, ExchangeChunk.chunk_no >= first)
            .order_by(ExchangeChunk.chunk_no)
        )
        if count is not None:
            query = query.limit(count)
        return (await self.session.execute(query)).scalars().all()

    async def stamp_started(self, run_id: str, now: datetime) -> None:
        await self.session.execute(
            update(ExchangeRun)
            .where(ExchangeRun.run_id == run_id, ExchangeRun.started_at.is_(None))
            .values(started_at=now)
        )

    async def checkpoint(
        self,
        run_id: str,
        chunk_no: int,
        cursor: str | None,
        records: int,
        sealed: bytes,
        now: datetime,
    ) -> bool:
        """Store chunk ``chunk_no`` and move the run past it, only if the run stands
        right before it (False, nothing written, otherwise)."""
        moved = await self.session.execute(
            update(ExchangeRun)
            .where(ExchangeRun.run_id == run_id, ExchangeRun.chunks_done == chunk_no)
            .values(
                cursor=cursor,
                chunks_done=chunk_no + 1,
                records=ExchangeRun.records + records,
                attempts=0,
                last_error=None,
            )
        )
        if not getattr(moved, "rowcount", 0):
            return False
        self.session.add(
            ExchangeChunk(
                run_id=run_id, chunk_no=chunk_no, rows=records, sealed=sealed, created_at=now
            )
        )
        return True

    async def purge(self, name: str, before: datetime, *, dry_run: bool = False) -> int:
        """Delete this exchange's runs finished before ``before`` with their chunks;
        returns the records they held (counted, not deleted, with ``dry_run``)."""
        finished = ExchangeRun.name == name, ExchangeRun.finished_at < before
        records = (
            await self.session.execute(
                select(func.coalesce(func.sum(ExchangeRun.records), 0)).where(*finished)
            )
        ).scalar_one()
        if not dry_run and records:
            runs = select(ExchangeRun.run_id).where(*finished)
            await self.session.execute(delete(ExchangeChunk).where(ExchangeChunk.run_id.in_(runs)))
            await self.session.execute(delete(ExchangeRun).where(*finished))
        return int(records)
