"""SMS reminders: batches, one row per reminder with the SMSC's message id and outcome,
and the phones that opted out.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_reminder_batches",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(80), nullable=False),
        sa.Column("batch_ref", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("legal_basis", sa.String(40), nullable=False),
        sa.Column("template", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("client_id", "batch_ref"),
    )
    op.create_table(
        "sms_reminders",
        sa.Column("reminder_key", sa.String(64), primary_key=True),
        sa.Column(
            "batch_id",
            sa.String(36),
            sa.ForeignKey("sms_reminder_batches.batch_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("subject_ref", sa.String(64), nullable=False),
        sa.Column("phone_ref", sa.String(64), nullable=False),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(65), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(64), nullable=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt_status", sa.String(8), nullable=True),
        sa.Column("receipt_error", sa.String(8), nullable=True),
    )
    for column in ("batch_id", "phone_ref", "state", "message_id", "next_at"):
        op.create_index(f"ix_sms_reminders_{column}", "sms_reminders", [column])
    op.create_table(
        "sms_opt_outs",
        sa.Column("phone_ref", sa.String(64), primary_key=True),
        sa.Column("keyword", sa.String(16), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sms_opt_outs")
    for column in ("batch_id", "phone_ref", "state", "message_id", "next_at"):
        op.drop_index(f"ix_sms_reminders_{column}", "sms_reminders")
    op.drop_table("sms_reminders")
    op.drop_table("sms_reminder_batches")
