"""Data keys, the consent registry, keyed idempotency keys.

Idempotency answers were sealed under a key derived from the master key; they are now
sealed under data keys and found by a keyed hash of the client's key. The replay cache
(two days of answers) is emptied rather than converted: a repeat of an older POST reaches
the bank again with the same bank request id, which the bank deduplicates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_data_keys"),
    )
    op.create_index("ix_data_keys_created_at", "data_keys", ["created_at"])
    op.create_table(
        "consents",
        sa.Column("consent_id", sa.String(36), nullable=False),
        sa.Column("subject_ref", sa.String(64), nullable=False),
        sa.Column("household_ref", sa.String(64), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("legal_basis", sa.String(64), nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=False),
        sa.Column("agreement_version", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("document_sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("consent_id", name="pk_consents"),
    )
    op.create_index("ix_consents_subject_ref", "consents", ["subject_ref"])
    op.create_index("ix_consents_household_ref", "consents", ["household_ref"])
    op.create_index("ix_consents_ended_at", "consents", ["ended_at"])
    op.create_table(
        "consent_revisions",
        sa.Column("consent_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("document_digest", sa.String(64), nullable=False),
        sa.Column("document_sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.consent_id"],
            name="fk_consent_revisions_consent_id_consents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("consent_id", "revision", name="pk_consent_revisions"),
    )
    op.execute("DELETE FROM idempotency_keys")


def downgrade() -> None:
    op.drop_table("consent_revisions")
    op.drop_index("ix_consents_ended_at", table_name="consents")
    op.drop_index("ix_consents_household_ref", table_name="consents")
    op.drop_index("ix_consents_subject_ref", table_name="consents")
    op.drop_table("consents")
    op.drop_index("ix_data_keys_created_at", table_name="data_keys")
    op.drop_table("data_keys")
    op.execute("DELETE FROM idempotency_keys")
