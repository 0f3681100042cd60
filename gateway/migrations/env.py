"""Alembic environment: runs the migrations on the database the settings name."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from gateway.core.db import Base, sync_url
from gateway.models import load_all

load_all()
config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "the migration runner sets sqlalchemy.url"
engine = create_engine(sync_url(url))
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
