"""A change counter for the client registry and the signing keys.

Each gateway process caches clients and verified keys and re-reads the counter at most
every ``registry_refresh_ms`` (``gateway.core.registry``); triggers bump it on every
insert, update or delete of ``clients`` or ``signing_keys``, whatever code makes the
change, so no write path can forget to.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

WATCHED = ("clients", "signing_keys")


def upgrade() -> None:
    op.create_table(
        "registry_versions",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(
        sa.table("registry_versions", sa.column("name"), sa.column("version")),
        [{"name": name, "version": 0} for name in WATCHED],
    )
    bump = "UPDATE registry_versions SET version = version + 1 WHERE name = '{table}'"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION bump_registry_version() RETURNS trigger AS $$
            BEGIN
                UPDATE registry_versions SET version = version + 1 WHERE name = TG_TABLE_NAME;
                RETURN NULL;
            END $$ LANGUAGE plpgsql
            """
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_registry_version()"
            )
        return
    for table in WATCHED:
        for action in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_version_{action.lower()} AFTER {action} ON {table} "
                f"BEGIN {bump.format(table=table)}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER {table}_version ON {table}")
        op.execute("DROP FUNCTION bump_registry_version()")
    else:
        for table in WATCHED:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_version_{action}")
    op.drop_table("registry_versions")
