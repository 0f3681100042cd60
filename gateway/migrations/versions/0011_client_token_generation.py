"""A client's token generation: tokens of an older generation are refused.

Rotating a client's secret or disabling the client moves it to the next generation, so
tokens bought before (possibly with a leaked secret) stop working at once and do not
come back when the client is enabled again.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("token_generation")
