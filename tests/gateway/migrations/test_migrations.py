"""The same migrations build the same schema on SQLite and PostgreSQL, up and down."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect

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
