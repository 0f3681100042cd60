"""Room for a person's name where a run and its audit events say who started it.

An exchange run started from the console names the person as ``console:<username>``
(``exchange_runs.triggered_by``), and every audit event of the run's partner calls
carries the same text as its ``client_id``. A console username is up to 64 characters,
so both columns grow from 40 to 80 characters.

PostgreSQL: a longer ``varchar`` is a change of the catalog only (no table rewrite, the
audit table keeps its rows and its chain untouched). SQLite does not enforce the length
of a ``VARCHAR``, so nothing changes there.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COLUMNS = (("exchange_runs", "triggered_by"), ("audit_events", "client_id"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.String(80), existing_type=sa.String(40))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.String(40), existing_type=sa.String(80))
