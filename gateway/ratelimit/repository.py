"""Every statement on the rate-limit windows (``rate_windows``): one row per client and
window, its ``used`` count moved only by guarded statements so that no interleaving of
processes can take more than the limit.

The repository runs in the caller's session and never commits.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.ratelimit.models import RateWindow


class RateWindowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, client_id: str, window: int, want: int, limit: int) -> int | None:
        """Add ``want`` to the window's count if it stays within ``limit`` (creating the
        row when it is the window's first claim); the count afterwards, or None when the
        guard refused."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(RateWindow).values(client_id=client_id, window_start=window, used=want)
        # RETURNING tells whether the row was written (an ORM insert's rowcount is not
        # reliable on every driver): nothing comes back when the guard refused.
        taken: int | None = (
            await self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["client_id", "window_start"],
                    set_={"used": RateWindow.used + want},
                    where=RateWindow.used + want <= limit,
                ).returning(RateWindow.used)
            )
        ).scalar_one_or_none()
        return taken

    async def used(self, client_id: str, window: int) -> int:
        """The window's count (the row must exist)."""
        used: int = (
            await self.session.execute(
                select(RateWindow.used).where(
                    RateWindow.client_id == client_id, RateWindow.window_start == window
                )
            )
        ).scalar_one()
        return used

    async def move(self, client_id: str, window: int, used: int, to: int) -> bool:
        """Set the count from ``used`` to ``to`` unless another process moved it since;
        True when this caller did."""
        moved = (
            await self.session.execute(
                update(RateWindow)
                .where(
                    RateWindow.client_id == client_id,
                    RateWindow.window_start == window,
                    RateWindow.used == used,
                )
                .values(used=to)
                .returning(RateWindow.used)
            )
        ).scalar_one_or_none()
        return moved is not None

    async def purge_before(self, window_start: int) -> int:
        """Delete every client's windows that started before ``window_start`` (epoch
        seconds); how many rows went."""
        result = await self.session.execute(
            delete(RateWindow).where(RateWindow.window_start < window_start)
        )
        return int(getattr(result, "rowcount", 0) or 0)
