"""Every statement on pushed messages and their sealed chunks (``inbound_messages``,
``inbound_chunks``); other features (subscriptions, retention) read and purge them
through this repository, not the tables.

The repository runs in the caller's session and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.inbound.models import InboundChunk, InboundMessage


class InboundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- messages --------------------------------------------------------------------

    async def add_message(self, message: InboundMessage) -> None:
        """Insert (and flush) a message row; raises ``IntegrityError`` when its
        ``(partner, message_id)`` is taken."""
        self.session.add(message)
        await self.session.flush()

    async def get_message(self, partner: str, message_id: str) -> InboundMessage | None:
        return await self.session.get(InboundMessage, (partner, message_id))

    async def take_over(
        self,
        partner: str,
        message_id: str,
        client_id: str,
        user_id: str | None,
        stale_before: datetime,
        now: datetime,
    ) -> bool:
        """Take over a message still ``receiving`` since before ``stale_before`` (an
        abandoned upload) and drop what it stored; True when this caller now owns it."""
        taken = await self.session.execute(
            update(InboundMessage)
            .where(
                InboundMessage.partner == partner,
                InboundMessage.message_id == message_id,
                InboundMessage.state == "receiving",
                InboundMessage.received_at < stale_before,
            )
            .values(received_at=now, client_id=client_id, user_id=user_id)
        )
        if not getattr(taken, "rowcount", 0):
            return False
        await self._delete_chunks(partner, message_id)
        return True

    async def release(self, partner: str, message_id: str) -> None:
        """Forget a message still ``receiving`` and its chunks."""
        await self._delete_chunks(partner, message_id)
        await self.session.execute(
            delete(InboundMessage).where(
                InboundMessage.partner == partner,
                InboundMessage.message_id == message_id,
                InboundMessage.state == "receiving",
            )
        )

    async def accept(self, partner: str, message_id: str, **values: Any) -> InboundMessage | None:
        """Mark a message ``accepted`` with ``values`` (counts, digest, receipt...); the
        message as stored afterwards."""
        await self.session.execute(
            update(InboundMessage)
            .where(InboundMessage.partner == partner, InboundMessage.message_id == message_id)
            .values(state="accepted", **values)
        )
        return await self.get_message(partner, message_id)

    async def pushed_by(
        self, partner: str, client_id: str, user_id: str, limit: int
    ) -> Sequence[InboundMessage]:
        """The accepted messages of ``partner`` that ``user_id`` pushed through
        ``client_id``, newest first, at most ``limit``."""
        return (
            await self.session.scalars(
                select(InboundMessage)
                .where(
                    InboundMessage.partner == partner,
                    InboundMessage.client_id == client_id,
                    InboundMessage.user_id == user_id,
                    InboundMessage.state == "accepted",
                )
                .order_by(InboundMessage.received_at.desc(), InboundMessage.message_id)
                .limit(limit)
            )
        ).all()

    async def messages(
        self, limit: int, *, partner: str | None = None, kind: str | None = None
    ) -> Sequence[InboundMessage]:
        """The newest messages first, of one partner and feed (``kind``) if given."""
        query = select(InboundMessage).order_by(
            InboundMessage.received_at.desc(), InboundMessage.message_id
        )
        if partner is not None:
            query = query.where(InboundMessage.partner == partner)
        if kind is not None:
            query = query.where(InboundMessage.kind == kind)
        return (await self.session.scalars(query.limit(limit))).all()

    async def feed_totals(self) -> list[dict[str, Any]]:
        """Per feed (``partner``, ``kind``): ``messages``, ``rows_accepted``,
        ``rows_rejected`` and ``last_received_at`` over the messages still kept."""
        rows = await self.session.execute(
            select(
                InboundMessage.partner,
                InboundMessage.kind,
                func.count(),
                func.coalesce(func.sum(InboundMessage.rows_accepted), 0),
                func.coalesce(func.sum(InboundMessage.rows_rejected), 0),
                func.max(InboundMessage.received_at),
            )
            .group_by(InboundMessage.partner, InboundMessage.kind)
            .order_by(InboundMessage.partner, InboundMessage.kind)
        )
        return [
            {
                "partner": partner,
                "kind": kind,
                "messages": int(count),
                "rows_accepted": int(accepted),
                "rows_rejected": int(rejected),
                "last_received_at": last,
            }
            for partner, kind, count, accepted, rejected, last in rows.all()
        ]

    # -- chunks ----------------------------------------------------------------------

    def add_chunk(self, chunk: InboundChunk) -> None:
        self.session.add(chunk)

    async def chunks(self, partner: str, message_id: str) -> Sequence[InboundChunk]:
        """A message's chunks, in order."""
        return (
            await self.session.scalars(
                select(InboundChunk)
                .where(InboundChunk.partner == partner, InboundChunk.message_id == message_id)
                .order_by(InboundChunk.chunk_no)
            )
        ).all()

    async def chunk_numbers(self, partner: str, message_id: str) -> Sequence[int]:
        """The numbers of a message's stored chunks."""
        return (
            await self.session.scalars(
                select(InboundChunk.chunk_no).where(
                    InboundChunk.partner == partner, InboundChunk.message_id == message_id
                )
            )
        ).all()

    async def chunk(self, partner: str, message_id: str, chunk_no: int) -> InboundChunk | None:
        return await self.session.get(InboundChunk, (partner, message_id, chunk_no))

    async def _delete_chunks(self, partner: str, message_id: str) -> None:
        await self.session.execute(
            delete(InboundChunk).where(
                InboundChunk.partner == partner, InboundChunk.message_id == message_id
            )
        )

    # -- retention -------------------------------------------------------------------

    async def purge_received_before(
        self, partner: str, kind: str, cutoff: datetime, *, dry_run: bool = False
    ) -> int:
        """Delete the messages of one feed (``partner``, ``kind``) received before
        ``cutoff``, with their chunks; the number of accepted rows they held (counted,
        not deleted, when ``dry_run``)."""
        old = (
            InboundMessage.partner == partner,
            InboundMessage.kind == kind,
            InboundMessage.received_at < cutoff,
        )
        rows = int(
            await self.session.scalar(
                select(func.coalesce(func.sum(InboundMessage.rows_accepted), 0)).where(*old)
            )
            or 0
        )
        if not dry_run and rows:
            ids = select(InboundMessage.message_id).where(*old)
            await self.session.execute(
                delete(InboundChunk).where(
                    InboundChunk.partner == partner, InboundChunk.message_id.in_(ids)
                )
            )
            await self.session.execute(delete(InboundMessage).where(*old))
        return rows
