"""Tamper-evident audit log: events as index columns plus a canonical body, the hash
chain, signed checkpoints, signing keys and the record of removed archives.

Existing events are carried over in sequence order (they are chained by the sealer on
the next start).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BODY_FIELDS = (
    "request_id", "user_id", "roles", "legal_basis", "partner", "operation", "fields",
    "reason", "status", "latency_ms", "request_digest", "response_digest", "request_bytes",
    "response_bytes",
)  # fmt: skip


def _us(moment: Any) -> int:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    bind = op.get_bind()
    old = list(bind.execute(sa.text("SELECT * FROM audit_events ORDER BY seq")).mappings())
    op.drop_index("ix_audit_events_occurred_at", table_name="audit_events")
    op.drop_table("audit_events")
    events = op.create_table(
        "audit_events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("occurred_us", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(40)),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(64)),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("subjects", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_events_occurred_us", "audit_events", ["occurred_us"])
    op.create_index("ix_audit_events_client_id", "audit_events", ["client_id"])
    op.create_table(
        "audit_chain",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("head_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("signed_us", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
    )
    op.create_table(
        "audit_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("private_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "audit_archives",
        sa.Column("first_seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("last_seq", SEQ, nullable=False),
        sa.Column("last_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
    )
    if old:
        op.bulk_insert(
            events,
            [
                {
                    "seq": row["seq"],
                    "occurred_us": _us(row["occurred_at"]),
                    "client_id": row["client_id"],
                    "service": row["service"],
                    "purpose": row["purpose"],
                    "decision": row["decision"],
                    "outcome": row["outcome"],
                    "subjects": " ".join(_json(row["subjects"]) or []),
                    "body": json.dumps(
                        {
                            name: _json(row[name]) if name in ("roles", "fields") else row[name]
                            for name in BODY_FIELDS
                        },
                        sort_keys=True,
                        separators=(",", ":"),
                        ensure_ascii=False,
                    ),
                }
                for row in old
            ],
        )
        if bind.dialect.name == "postgresql":
            op.execute(
                "SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), "
                "(SELECT max(seq) FROM audit_events))"
            )


def downgrade() -> None:
    bind = op.get_bind()
    rows = list(bind.execute(sa.text("SELECT * FROM audit_events ORDER BY seq")).mappings())
    for table in ("audit_archives", "audit_keys", "audit_checkpoints", "audit_chain"):
        op.drop_table(table)
    op.drop_index("ix_audit_events_client_id", table_name="audit_events")
    op.drop_index("ix_audit_events_occurred_us", table_name="audit_events")
    op.drop_table("audit_events")
    events = op.create_table(
        "audit_events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("client_id", sa.String(40)),
        sa.Column("user_id", sa.String(64)),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(64)),
        sa.Column("legal_basis", sa.String(64)),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("partner", sa.String(32)),
        sa.Column("operation", sa.String(64)),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("request_digest", sa.String(64)),
        sa.Column("response_digest", sa.String(64)),
        sa.Column("request_bytes", sa.Integer(), nullable=False),
        sa.Column("response_bytes", sa.Integer(), nullable=False),
    )
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"])
    converted = []
    for row in rows:
        body = json.loads(row["body"])
        if row["decision"] == "void":
            continue
        converted.append(
            {
                "seq": row["seq"],
                "occurred_at": datetime.fromtimestamp(row["occurred_us"] / 1e6, UTC),
                "client_id": row["client_id"],
                "service": row["service"],
                "purpose": row["purpose"],
                "decision": row["decision"],
                "outcome": row["outcome"],
                "subjects": row["subjects"].split(),
                **{name: body.get(name) for name in BODY_FIELDS},
            }
        )
    if converted:
        op.bulk_insert(events, converted)
