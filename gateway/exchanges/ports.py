"""What exchanges need from other features, as protocols (``gateway.state`` wires the
consent service in): exchanges depend on no other feature's classes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Consents(Protocol):
    async def covered(
        self,
        session: AsyncSession,
        subject_refs: Sequence[str],
        purpose: str,
        data_category: str | None,
    ) -> set[str]:
        """Which of these subject pseudonyms an active consent covers for this purpose."""
        ...

    async def caregivers(
        self, session: AsyncSession, after: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        """DNIs of caregivers with an active consent, a page at a time, and the cursor."""
        ...
