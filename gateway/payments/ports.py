"""What payments need from other features, as protocols (``gateway.state`` wires the
consent service in): payments depend on no other feature's classes."""

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
