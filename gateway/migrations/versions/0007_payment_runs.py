"""Payment runs, their items (one row per EndToEndId) and their pain.001 chunks.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_runs",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("run_ref", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_date", sa.Date(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("reconciliation", sa.JSON(), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name="pk_payment_runs"),
        sa.UniqueConstraint("client_id", "run_ref", name="uq_payment_runs_client_id_run_ref"),
    )
    op.create_index("ix_payment_runs_state", "payment_runs", ["state"])
    op.create_table(
        "payment_items",
        sa.Column("end_to_end_id", sa.String(35), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("chunk_no", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("amount", sa.String(16), nullable=False),
        sa.Column("holder_ref", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(16), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["payment_runs.run_id"],
            name="fk_payment_items_run_id_payment_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("end_to_end_id", name="pk_payment_items"),
    )
    op.create_index("ix_payment_items_run_id", "payment_items", ["run_id"])
    op.create_table(
        "payment_chunks",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("chunk_no", sa.Integer(), nullable=False),
        sa.Column("msg_id", sa.String(35), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("document_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("group_status", sa.String(8), nullable=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["payment_runs.run_id"],
            name="fk_payment_chunks_run_id_payment_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "chunk_no", name="pk_payment_chunks"),
        sa.UniqueConstraint("msg_id", name="uq_payment_chunks_msg_id"),
    )


def downgrade() -> None:
    op.drop_table("payment_chunks")
    op.drop_index("ix_payment_items_run_id", table_name="payment_items")
    op.drop_table("payment_items")
    op.drop_index("ix_payment_runs_state", table_name="payment_runs")
    op.drop_table("payment_runs")
