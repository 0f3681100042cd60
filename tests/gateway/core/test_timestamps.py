"""Every stored moment reads back timezone-aware in UTC, on SQLite and on PostgreSQL.

A row is written to every table of the migrated database with each of its moments given
in Lima time (UTC-5); each is read back and must be the same instant, in UTC. On
PostgreSQL the session's own zone is Lima too, so an answer in the session's zone would
show. A naive moment is refused on write.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy.exc import StatementError

from gateway.core.db import UTCDateTime, create_engine
from gateway.models import all_tables

LIMA = timezone(timedelta(hours=-5))
MOMENT = datetime(2026, 7, 1, 9, 30, 15, 123456, tzinfo=LIMA)


def _value(column: Any) -> Any:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return MOMENT
    for types, value in (
        ((Boolean,), True),
        ((Integer, BigInteger), 1),
        ((Date,), date(2026, 7, 1)),
        ((JSON,), {}),
        ((LargeBinary,), b"x"),
        ((String, Text), "x"),
    ):
        if isinstance(kind, types):
            return value
    raise AssertionError(f"no sample value for {column.table.name}.{column.name}")


def _moments(table: Table) -> list[str]:
    return [c.name for c in table.columns if isinstance(c.type, UTCDateTime)]


def test_every_stored_moment_is_of_the_one_utc_type() -> None:
    plain = [
        f"{t.name}.{c.name}"
        for t in all_tables()
        for c in t.columns
        if isinstance(c.type, DateTime)
    ]
    assert plain == []
    assert sum(len(_moments(t)) for t in all_tables()) >= 30


async def test_every_moment_reads_back_aware_in_utc(clean_database: str) -> None:
    engine = create_engine(clean_database)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SET TIME ZONE 'America/Lima'"))
            for table in all_tables():
                await conn.execute(
                    insert(table).values(
                        {c.name: _value(c) for c in table.columns if c.autoincrement is not True}
                    )
                )
            checked = 0
            for table in all_tables():
                names = _moments(table)
                if not names:
                    continue
                row = (await conn.execute(select(*(table.c[n] for n in names)))).one()
                for name, moment in zip(names, row, strict=True):
                    assert moment.tzinfo is not None, f"{table.name}.{name} read back naive"
                    assert moment.utcoffset() == timedelta(0), f"{table.name}.{name}"
                    assert moment == MOMENT, f"{table.name}.{name}"
                    assert moment < datetime.now(UTC)  # comparable with the clock
                    checked += 1
            assert checked == sum(len(_moments(t)) for t in all_tables())
    finally:
        await engine.dispose()


async def test_a_naive_moment_is_refused_on_write(clean_database: str) -> None:
    from gateway.idempotency.models import IdempotencyRecord

    table = IdempotencyRecord.__table__
    engine = create_engine(clean_database)
    try:
        async with engine.connect() as conn:
            with pytest.raises(StatementError, match="timezone-aware"):
                await conn.execute(
                    insert(table).values(
                        client_id="c", key="k", request_digest="d", created_at=datetime(2026, 1, 1)
                    )
                )
    finally:
        await engine.dispose()
