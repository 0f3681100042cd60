"""Periodic exchange runs and their staged chunks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_runs",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("slot", sa.String(96), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("triggered_by", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name="pk_exchange_runs"),
        sa.UniqueConstraint("slot", name="uq_exchange_runs_slot"),
    )
    op.create_index("ix_exchange_runs_name", "exchange_runs", ["name"])
    op.create_index("ix_exchange_runs_state", "exchange_runs", ["state"])
    op.create_table(
        "exchange_chunks",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("chunk_no", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["exchange_runs.run_id"],
            name="fk_exchange_chunks_run_id_exchange_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "chunk_no", name="pk_exchange_chunks"),
    )


def downgrade() -> None:
    op.drop_table("exchange_chunks")
    op.drop_index("ix_exchange_runs_state", table_name="exchange_runs")
    op.drop_index("ix_exchange_runs_name", table_name="exchange_runs")
    op.drop_table("exchange_runs")
