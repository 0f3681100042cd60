"""What exchanges need from other features, as protocols (``gateway.state`` wires the
consent service in): exchanges depend on no other feature's classes. The consent check
is the one every audited call declares (``gateway.calls.audited.ConsentCheck``)."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.audited import ConsentCheck


class Consents(ConsentCheck, Protocol):
    async def caregivers(
        self, session: AsyncSession, after: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        """DNIs of caregivers with an active consent, a page at a time, and the cursor."""
        ...
