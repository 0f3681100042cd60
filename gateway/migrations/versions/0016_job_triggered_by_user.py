"""Who started a run, as a pair: the kind of starter and the person.

Exchange runs and payment runs both say who started them with ``triggered_by`` (the
client id of an API call, or ``schedule``, ``cli``, ``console``) and
``triggered_by_user`` (the person, when there is one: the console username, the
operator's login name at the command line, a client's ``X-User-Id``); the audit events
of the run carry the same pair as ``client_id`` and ``user_id``.

- ``exchange_runs`` gains ``triggered_by_user``; a run started from the console before
  this revision (``triggered_by`` ``console:<username>``) is split into the pair.
- ``payment_runs`` gains both columns; a run accepted before this revision was submitted
  by its ``client_id``, which becomes its ``triggered_by``.

Downgrade joins a console run's pair back into ``console:<username>`` and drops the
columns. Audit events already written are never changed (they are hash-chained).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

CONSOLE = "console:"


def upgrade() -> None:
    with op.batch_alter_table("exchange_runs") as batch:
        batch.add_column(sa.Column("triggered_by_user", sa.String(64), nullable=True))
    op.execute(
        sa.text(
            "UPDATE exchange_runs SET triggered_by_user = substr(triggered_by, :start), "
            "triggered_by = 'console' WHERE triggered_by LIKE 'console:%'"
        ).bindparams(start=len(CONSOLE) + 1)
    )
    with op.batch_alter_table("payment_runs") as batch:
        batch.add_column(sa.Column("triggered_by", sa.String(80), nullable=True))
        batch.add_column(sa.Column("triggered_by_user", sa.String(64), nullable=True))
    op.execute(sa.text("UPDATE payment_runs SET triggered_by = client_id"))
    with op.batch_alter_table("payment_runs") as batch:
        batch.alter_column("triggered_by", existing_type=sa.String(80), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_runs") as batch:
        batch.drop_column("triggered_by_user")
        batch.drop_column("triggered_by")
    op.execute(
        sa.text(
            "UPDATE exchange_runs SET triggered_by = 'console:' || triggered_by_user "
            "WHERE triggered_by = 'console' AND triggered_by_user IS NOT NULL"
        )
    )
    with op.batch_alter_table("exchange_runs") as batch:
        batch.drop_column("triggered_by_user")
