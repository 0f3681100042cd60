"""Every statement of the core: on its own bookkeeping tables, and the readiness probe.

- ``registry_versions``: the change counters (one per watched table, bumped by triggers;
  migration 0012) that bound the staleness of the per-process registry caches
  (``gateway.core.registry``).
- ``data_keys``: the wrapped data keys (``gateway.core.data_keys`` keeps the keyring and
  the re-encryption logic), and the batched read and rewrite of a sealed column that
  ``reencrypt`` runs on any feature's table it is handed.
- The database probe of ``GET /readyz``.
- The planner's statistics on PostgreSQL (``gateway.core.statistics``): the tables due
  for ``ANALYZE`` by autovacuum's threshold, the round's advisory lock, ``ANALYZE``.

Statements run on a synchronous connection (SQLite's cheap path) or in the caller's
async session or connection; nothing here commits nor opens a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, RowMapping, Table, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from gateway.core.models import DataKey

_VERSIONS = text("SELECT name, version FROM registry_versions")
_PING = text("SELECT 1")


def registry_versions_sync(conn: Connection) -> dict[str, int]:
    """Each watched table's change counter, by table name."""
    return {str(n): int(v) for n, v in conn.execute(_VERSIONS)}


async def registry_versions(session: AsyncSession) -> dict[str, int]:
    """Each watched table's change counter, by table name."""
    return {str(n): int(v) for n, v in await session.execute(_VERSIONS)}


async def ping(conn: AsyncConnection) -> None:
    """A round trip to the database; raises what the driver raises when it cannot answer."""
    await conn.execute(_PING)


async def data_keys(session: AsyncSession) -> Sequence[DataKey]:
    """Every wrapped data key, oldest first (ties by id): the last one is current."""
    rows = await session.scalars(select(DataKey).order_by(DataKey.created_at, DataKey.key_id))
    return rows.all()


async def add_data_key(session: AsyncSession, key: DataKey) -> None:
    """Store a wrapped data key (flushed, so a duplicate id fails here)."""
    session.add(key)
    await session.flush()


async def sealed_rows(
    session: AsyncSession, table: Table, column: str, limit: int, offset: int
) -> Sequence[RowMapping]:
    """Up to ``limit`` whole rows of ``table`` whose ``column`` is not null, skipping
    ``offset``, in primary-key order."""
    query = (
        select(table)
        .where(table.c[column].is_not(None))
        .order_by(*table.primary_key.columns)
        .limit(limit)
        .offset(offset)
    )
    return (await session.execute(query)).mappings().all()


async def reseal(
    session: AsyncSession, table: Table, row: RowMapping, column: str, value: bytes
) -> None:
    """Write ``value`` to ``column`` of the row of ``table`` with ``row``'s primary key."""
    pk: list[Column[Any]] = list(table.primary_key.columns)
    await session.execute(
        update(table).where(*(c == row[c.name] for c in pk)).values({column: value})
    )


# -- the planner's statistics (PostgreSQL) --------------------------------------------

# Tables of the current schema whose rows changed (inserted, updated, deleted) more than
# autovacuum's analyze threshold since their last ANALYZE, manual or automatic:
# threshold + scale factor x rows at that ANALYZE (none yet: reltuples is -1 and the
# threshold alone applies).
_DUE_FOR_ANALYZE = text(
    """
    SELECT s.relname
    FROM pg_stat_user_tables AS s
    JOIN pg_class AS c ON c.oid = s.relid
    WHERE s.schemaname = current_schema()
      AND s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
          + current_setting('autovacuum_analyze_scale_factor')::float8
            * greatest(c.reltuples, 0)
    ORDER BY s.n_mod_since_analyze DESC
    """
)


async def try_transaction_lock(session: AsyncSession, key: int) -> bool:
    """PostgreSQL's ``pg_try_advisory_xact_lock(key)``: whether this transaction now holds
    the lock (released at its end); False at once when another holds it."""
    return bool(await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))


async def tables_due_for_analyze(session: AsyncSession) -> list[str]:
    """Names of the current schema's tables past autovacuum's analyze threshold, the most
    changed first (PostgreSQL)."""
    return [str(name) for name in (await session.execute(_DUE_FOR_ANALYZE)).scalars()]


async def analyze(session: AsyncSession, table: str) -> None:
    """``ANALYZE`` one table of the current schema (PostgreSQL), its name quoted as an
    identifier."""
    quoted = session.get_bind().dialect.identifier_preparer.quote_identifier(table)
    await session.execute(text(f"ANALYZE {quoted}"))
