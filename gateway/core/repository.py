"""Statements on the core's own bookkeeping tables: ``registry_versions``, the change
counters (one per watched table, bumped by triggers; migration 0012) that bound the
staleness of the per-process registry caches (``gateway.core.registry``).

Read on a synchronous connection (SQLite's cheap path) or in the caller's async session;
nothing here commits.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncSession

_VERSIONS = text("SELECT name, version FROM registry_versions")


def registry_versions_sync(conn: Connection) -> dict[str, int]:
    """Each watched table's change counter, by table name."""
    return {str(n): int(v) for n, v in conn.execute(_VERSIONS)}


async def registry_versions(session: AsyncSession) -> dict[str, int]:
    """Each watched table's change counter, by table name."""
    return {str(n): int(v) for n, v in await session.execute(_VERSIONS)}
