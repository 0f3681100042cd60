"""Running the CLI in-process against the database under test."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner, Result

from gateway.cli import app as cli
from gateway.settings import Settings

runner = CliRunner()


async def invoke_async(args: list[str], env: dict[str, str]) -> Result:
    """Run the CLI beside the test's event loop, as a separate shell command would."""
    return await asyncio.to_thread(runner.invoke, cli, args, env=env)


def env_for(settings: Settings) -> dict[str, str]:
    return {
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_VAR_DIR": str(settings.var_dir),
    }
