"""Every statement on the payment tables (runs, items, chunks).

The caller's session carries the transaction; nothing here commits. Lists of
EndToEndIds go to the database in batches of 500 (a bound-parameter limit).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.payments.models import PaymentChunk, PaymentItem, PaymentRun

BATCH = 500
#: States of an item still waiting for its outcome from the bank.
WAITING = ("submitted", "pending")


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- runs --------------------------------------------------------------------------

    async def run(self, run_id: str) -> PaymentRun | None:
        return await self.session.get(PaymentRun, run_id)

    async def run_id_by_ref(self, client_id: str, run_ref: str) -> str | None:
        return (
            await self.session.execute(
                select(PaymentRun.run_id).where(
                    PaymentRun.client_id == client_id, PaymentRun.run_ref == run_ref
                )
            )
        ).scalar_one_or_none()

    async def add_run(self, values: dict[str, Any]) -> bool:
        """Insert a run; False (nothing stored) when its (client, run_ref) exists."""
        dialect = self.session.get_bind().dialect.name
        insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stored = await self.session.execute(
            insert_(PaymentRun)
            .values(values)
            .on_conflict_do_nothing(index_elements=["client_id", "run_ref"])
            .returning(PaymentRun.run_id)
        )
        # RETURNING, not rowcount: asyncpg reports no row count for this statement
        return stored.scalar() is not None

    async def runs(self, limit: int, *, state: str | None = None) -> Sequence[PaymentRun]:
        """The newest runs first, in ``state`` if given."""
        query = select(PaymentRun).order_by(PaymentRun.created_at.desc(), PaymentRun.run_id)
        if state is not None:
            query = query.where(PaymentRun.state == state)
        return (await self.session.execute(query.limit(limit))).scalars().all()

    async def status_counts(self, run_id: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(PaymentItem.status, func.count())
            .where(PaymentItem.run_id == run_id)
            .group_by(PaymentItem.status)
        )
        return {str(k): int(v) for k, v in rows.all()}

    async def rejection_counts(self, run_id: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(PaymentItem.reason, func.count())
            .where(PaymentItem.run_id == run_id, PaymentItem.status == "rejected")
            .group_by(PaymentItem.reason)
        )
        return {str(k): int(v) for k, v in rows.all()}

    async def update_run(self, run_id: str, **values: Any) -> None:
        await self.session.execute(
            update(PaymentRun).where(PaymentRun.run_id == run_id).values(values)
        )

    # -- items -------------------------------------------------------------------------

    async def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these EndToEndIds an earlier roll already holds."""
        known: set[str] = set()
        for start in range(0, len(ids), BATCH):
            known |= set(
                (
                    await self.session.execute(
                        select(PaymentItem.end_to_end_id).where(
                            PaymentItem.end_to_end_id.in_(ids[start : start + BATCH])
                        )
                    )
                ).scalars()
            )
        return known

    async def add_items(self, rows: list[dict[str, Any]]) -> None:
        """One statement for the roll (rows sent in batches), not one object each."""
        if rows:
            await self.session.execute(insert(PaymentItem), rows)

    async def chunk_items(self, run_id: str, chunk_no: int) -> Sequence[Row[str, str, bytes]]:
        """(end_to_end_id, amount, sealed) of a chunk's items, in roll order."""
        return (
            await self.session.execute(
                select(PaymentItem.end_to_end_id, PaymentItem.amount, PaymentItem.sealed)
                .where(PaymentItem.run_id == run_id, PaymentItem.chunk_no == chunk_no)
                .order_by(PaymentItem.position)
            )
        ).all()

    async def chunk_holders(self, run_id: str, chunk_no: int) -> list[str]:
        """The holders' pseudonyms of a chunk's items, in roll order."""
        return list(
            (
                await self.session.execute(
                    select(PaymentItem.holder_ref)
                    .where(PaymentItem.run_id == run_id, PaymentItem.chunk_no == chunk_no)
                    .order_by(PaymentItem.position)
                )
            ).scalars()
        )

    async def chunk_ids(self, run_id: str, chunk_no: int) -> list[str]:
        return list(
            (
                await self.session.execute(
                    select(PaymentItem.end_to_end_id)
                    .where(PaymentItem.run_id == run_id, PaymentItem.chunk_no == chunk_no)
                    .order_by(PaymentItem.position)
                )
            ).scalars()
        )

    async def set_chunk_items(self, run_id: str, chunk_no: int, status: str) -> None:
        await self.session.execute(
            update(PaymentItem)
            .where(PaymentItem.run_id == run_id, PaymentItem.chunk_no == chunk_no)
            .values(status=status)
        )

    async def waiting_in_chunk(self, run_id: str, chunk_no: int) -> int:
        """Items of a chunk still waiting for their outcome (submitted, pending)."""
        return int(
            (
                await self.session.execute(
                    select(func.count()).where(
                        PaymentItem.run_id == run_id,
                        PaymentItem.chunk_no == chunk_no,
                        PaymentItem.status.in_(WAITING),
                    )
                )
            ).scalar_one()
        )

    async def set_items(self, ids: Sequence[str], status: str, reason: str | None) -> None:
        """Give these items an outcome, those still waiting for one only: an outcome the
        bank already pushed (pain.002) is kept."""
        for start in range(0, len(ids), BATCH):
            await self.session.execute(
                update(PaymentItem)
                .where(
                    PaymentItem.end_to_end_id.in_(ids[start : start + BATCH]),
                    PaymentItem.status.in_(WAITING),
                )
                .values(status=status, reason=reason)
            )

    async def settle_waiting(self, end_to_end_id: str, status: str, reason: str | None) -> int:
        """Give an item still waiting for its outcome (submitted, pending) this one."""
        moved = await self.session.execute(
            update(PaymentItem)
            .where(
                PaymentItem.end_to_end_id == end_to_end_id,
                PaymentItem.status.in_(WAITING),
            )
            .values(status=status, reason=reason)
        )
        return int(getattr(moved, "rowcount", 0) or 0)

    async def outcomes(self, run_id: str) -> Sequence[Row[str, str, str]]:
        """(end_to_end_id, status, amount) of every item of a run."""
        return (
            await self.session.execute(
                select(PaymentItem.end_to_end_id, PaymentItem.status, PaymentItem.amount).where(
                    PaymentItem.run_id == run_id
                )
            )
        ).all()

    # -- chunks ------------------------------------------------------------------------

    async def chunk(self, run_id: str, chunk_no: int) -> PaymentChunk | None:
        return await self.session.get(PaymentChunk, (run_id, chunk_no))

    def add_chunk(self, chunk: PaymentChunk) -> None:
        self.session.add(chunk)

    async def reported(
        self, run_id: str, chunk_no: int, group_status: str | None, now: datetime
    ) -> None:
        await self.session.execute(
            update(PaymentChunk)
            .where(PaymentChunk.run_id == run_id, PaymentChunk.chunk_no == chunk_no)
            .values(state="reported", group_status=group_status, reported_at=now)
        )

    async def msg_ids(self, run_id: str) -> list[str]:
        return list(
            (
                await self.session.execute(
                    select(PaymentChunk.msg_id)
                    .where(PaymentChunk.run_id == run_id)
                    .order_by(PaymentChunk.chunk_no)
                )
            ).scalars()
        )

    async def chunk_of_message(self, msg_id: str) -> tuple[str, int] | None:
        """(run_id, chunk_no) of the pain.001 sent under ``msg_id``, if it is ours."""
        found = (
            await self.session.execute(
                select(PaymentChunk.run_id, PaymentChunk.chunk_no).where(
                    PaymentChunk.msg_id == msg_id
                )
            )
        ).one_or_none()
        return None if found is None else (found.run_id, found.chunk_no)

    # -- retention ---------------------------------------------------------------------

    async def purge(self, before: datetime, *, dry_run: bool = False) -> int:
        """Delete runs finished (done or failed) before ``before`` with their items and
        chunks; returns the items they held (counted only, with ``dry_run``)."""
        done = PaymentRun.state.in_(("done", "failed")), PaymentRun.finished_at < before
        items = (
            await self.session.execute(
                select(func.coalesce(func.sum(PaymentRun.items), 0)).where(*done)
            )
        ).scalar_one()
        if not dry_run and items:
            runs = select(PaymentRun.run_id).where(*done)
            await self.session.execute(delete(PaymentChunk).where(PaymentChunk.run_id.in_(runs)))
            await self.session.execute(delete(PaymentItem).where(PaymentItem.run_id.in_(runs)))
            await self.session.execute(delete(PaymentRun).where(*done))
        return int(items)
