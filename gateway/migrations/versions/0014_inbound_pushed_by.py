"""Who pushed a message: the person, when one did.

A partner's agent uploads files in the console, signed in as themselves; the message
keeps their user name, so the agent finds their own uploads and their receipts, and an
operator sees who pushed a file (a client's ``X-User-Id`` is kept the same way).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("user_id", sa.String(64), nullable=True))
    op.create_index("ix_inbound_messages_user_id", "inbound_messages", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_user_id", table_name="inbound_messages")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("user_id")
