"""Database engines and the unit of work.

Users configure one URL (``sqlite:///...`` or ``postgresql://...``); the async driver used
by the application and the sync driver used by Alembic are derived from it so both always
point at the same database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in time, the one column type of every stored timestamp.

    Written: an aware ``datetime`` converted to UTC (a naive one is refused with
    ``ValueError``: its zone would be a guess). Read: an aware ``datetime`` in UTC on every
    backend. PostgreSQL keeps ``timestamp with time zone`` and answers in the session's
    zone; SQLite keeps the text of the UTC moment without an offset and answers naive.
    Comparing an answer of one with the other, or with ``datetime.now(UTC)``, then raises
    ``TypeError``; through this type both answer alike.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a stored moment must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long an SQLite statement waits for another connection's write lock before it
fails with ``database is locked`` (SQLite's ``busy_timeout``)."""


def database_busy(exc: BaseException) -> bool:
    """True when ``exc`` is SQLite refusing a statement because another connection held
    the database past ``busy_timeout`` (``SQLITE_BUSY``/``SQLITE_LOCKED``, surfaced by
    SQLAlchemy as ``OperationalError``); the same statement may succeed when tried again.
    Nothing else counts: a PostgreSQL error, a constraint or a syntax error is not busy.
    """
    if not isinstance(exc, OperationalError):
        return False
    code = getattr(exc.orig, "sqlite_errorcode", None)  # sqlite3's, Python 3.11+
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _with_driver(url: str, sqlite_driver: str) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername=sqlite_driver)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database backend {backend!r}: use sqlite or postgresql")


def async_url(url: str) -> URL:
    return _with_driver(url, "sqlite+aiosqlite")


def sync_url(url: str) -> URL:
    return _with_driver(url, "sqlite")


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # First, so that the pragmas below wait for a busy database like every statement.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL with NORMAL: no fsync per commit; a process crash loses nothing committed, a
    # power loss may lose the newest commits (never corrupts). The embedded mode's trade;
    # PostgreSQL is the deployment for full durability.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    target = async_url(url)
    in_memory = target.get_backend_name() == "sqlite" and target.database in (None, "", ":memory:")
    pool: dict[str, Any] = {} if in_memory else {"pool_size": 10, "max_overflow": 20}
    engine = _create_async_engine(
        target, pool_pre_ping=target.get_backend_name() != "sqlite", **pool
    )
    if target.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the caller finishes, rolls back if it raises."""
    async with factory() as session, session.begin():
        yield session
