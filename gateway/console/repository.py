"""Every statement on the console's tables (``console_users``, ``console_sessions``).

Runs in the caller's session and never commits: the request (or the command) owns the
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.console.models import ConsoleAccount, ConsoleSession


class ConsoleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def account(self, username: str) -> ConsoleAccount | None:
        return await self.session.get(ConsoleAccount, username)

    async def add_account(self, account: ConsoleAccount) -> None:
        self.session.add(account)
        await self.session.flush()

    async def accounts(self) -> Sequence[ConsoleAccount]:
        result = await self.session.scalars(
            select(ConsoleAccount).order_by(ConsoleAccount.username)
        )
        return result.all()

    async def count_accounts(self) -> int:
        query = select(func.count()).select_from(ConsoleAccount)
        return int(await self.session.scalar(query) or 0)

    async def save(self) -> None:
        """Write the changes made to loaded accounts or sessions."""
        await self.session.flush()

    async def add_session(self, row: ConsoleSession) -> None:
        self.session.add(row)
        await self.session.flush()

    async def session_with_account(
        self, token_hash: str
    ) -> tuple[ConsoleSession, ConsoleAccount] | None:
        """The session with this token hash and its account, or None."""
        query = (
            select(ConsoleSession, ConsoleAccount)
            .join(ConsoleAccount, ConsoleAccount.username == ConsoleSession.username)
            .where(ConsoleSession.token_hash == token_hash)
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else (row[0], row[1])

    async def touch_session(self, token_hash: str, moment: datetime) -> None:
        await self.session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.token_hash == token_hash)
            .values(last_seen_at=moment)
        )

    async def delete_session(self, token_hash: str) -> None:
        await self.session.execute(
            delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash)
        )

    async def delete_sessions_of(self, username: str) -> int:
        result = await self.session.execute(
            delete(ConsoleSession).where(ConsoleSession.username == username)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def delete_sessions_before(
        self, username: str, idle_since: datetime, started_since: datetime
    ) -> None:
        """Drop this person's sessions idle since, or started before, these moments."""
        await self.session.execute(
            delete(ConsoleSession).where(
                ConsoleSession.username == username,
                (ConsoleSession.last_seen_at < idle_since)
                | (ConsoleSession.created_at < started_since),
            )
        )
