"""The same migrations build the same schema on SQLite and PostgreSQL, up and down."""

from __future__ import annotations

from sqlalchemy import Connection, create_engine, inspect, text

from gateway import migrate
from gateway.core.db import sync_url
from gateway.models import all_tables
from tests.fixtures.database import DatabaseFactory


def test_upgrade_downgrade_upgrade_matches_models(databases: DatabaseFactory) -> None:
    url = databases.new()
    assert migrate.current_revision(url) is None
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision(url)

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            for table in all_tables():
                columns = {c["name"] for c in inspector.get_columns(table.name)}
                assert columns == {c.name for c in table.columns}, table.name
    finally:
        engine.dispose()

    migrate.downgrade(url, "base")
    assert migrate.current_revision(url) is None
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision(url)


RUN = {
    "name": "reniec-newborns", "state": "failed", "params": "{}", "chunks_done": 0,
    "records": 0, "attempts": 1, "not_before": "2026-12-01 00:00:00+00:00",
    "created_at": "2026-12-01 00:00:00+00:00",
}  # fmt: skip
PAYMENT = {
    "run_ref": "roll-1", "state": "done", "requested_date": "2026-12-02", "items": 1, "chunks": 1,
    "chunks_done": 1, "attempts": 0, "not_before": "2026-12-01 00:00:00+00:00",
    "created_at": "2026-12-01 00:00:00+00:00",
}  # fmt: skip


def _insert(conn: Connection, table: str, row: dict[str, object]) -> None:
    names = ", ".join(row)
    values = ", ".join(f":{name}" for name in row)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({values})"), row)


def test_runs_started_before_0016_keep_who_started_them(databases: DatabaseFactory) -> None:
    """A console run's ``console:<username>`` becomes the pair (and back on downgrade);
    a payment run is started by the client that submitted it."""
    url = databases.new()
    migrate.upgrade(url, "0015")
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            _insert(conn, "exchange_runs", RUN | {"run_id": "r1", "triggered_by": "console:olga"})
            _insert(conn, "exchange_runs", RUN | {"run_id": "r2", "triggered_by": "schedule"})
            _insert(conn, "payment_runs", PAYMENT | {"run_id": "p1", "client_id": "c-prog"})
        migrate.upgrade(url)
        with engine.connect() as conn:
            runs = conn.execute(
                text("SELECT run_id, triggered_by, triggered_by_user FROM exchange_runs")
            ).all()
            payments = conn.execute(
                text("SELECT triggered_by, triggered_by_user FROM payment_runs")
            ).all()
        assert sorted(tuple(r) for r in runs) == [
            ("r1", "console", "olga"),
            ("r2", "schedule", None),
        ]
        assert [tuple(p) for p in payments] == [("c-prog", None)]
        migrate.downgrade(url, "0015")
        with engine.connect() as conn:
            back = conn.execute(text("SELECT run_id, triggered_by FROM exchange_runs")).all()
        assert sorted(tuple(r) for r in back) == [("r1", "console:olga"), ("r2", "schedule")]
    finally:
        engine.dispose()
