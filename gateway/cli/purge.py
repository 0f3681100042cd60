"""``purge``: deleting personal data past the catalog's retention."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from gateway.cli.common import _, get_catalog, get_settings, require_schema
from gateway.core.db import create_engine, session_factory, transaction


def purge_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help=_("Count what is past retention, delete nothing."))
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
) -> None:
    """Delete personal data past the catalog's retention and report counts per category."""
    from gateway.jobs.starters import Starter
    from gateway.retention import purge

    settings = get_settings()
    require_schema(settings)
    catalog = get_catalog(settings)

    async def run() -> dict[str, int]:
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                return await purge(
                    session, catalog, dry_run=dry_run, starter=Starter.command_line()
                )
        finally:
            await engine.dispose()

    counts = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "purged": counts}))
        return
    line = _("{category}: {count} past retention") if dry_run else _("{category}: {count} purged")
    for category, count in counts.items():
        typer.echo(line.format(category=category, count=count))
