"""``db``: applying and inspecting the schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from gateway import migrate
from gateway.cli.common import _, get_settings, prepare_sqlite_dir, unreachable_database

db_app = typer.Typer(help=_("Database schema migrations."), no_args_is_help=True)


@db_app.command(
    "upgrade", help=_("Apply migrations to the database named by GATEWAY_DATABASE_URL.")
)
def db_upgrade(
    revision: Annotated[str, typer.Argument(help=_("Target revision."))] = "head",
) -> None:
    """Apply migrations to the database named by GATEWAY_DATABASE_URL."""
    settings = get_settings()
    prepare_sqlite_dir(settings.database_url)
    try:
        migrate.upgrade(settings.database_url, revision)
        current = migrate.current_revision(settings.database_url)
    except DBAPIError as exc:
        raise unreachable_database(settings.database_url, exc) from None
    typer.echo(_("database at revision {revision}").format(revision=current))


@db_app.command("current", help=_("Print the database's current and the code's head revision."))
def db_current() -> None:
    """Print the database's current and the code's head revision."""
    settings = get_settings()
    try:
        current = migrate.current_revision(settings.database_url)
    except DBAPIError as exc:
        raise unreachable_database(settings.database_url, exc) from None
    typer.echo(f"current={current} head={migrate.head_revision(settings.database_url)}")
