"""``keys``: token signing keys, data keys for personal data at rest, and a fresh
master key."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.common import _, get_settings, in_transaction, require_schema
from gateway.core.crypto import SecretBox
from gateway.core.db import create_engine, session_factory
from gateway.settings import Settings
from gateway.signing_keys.service import KeyService

keys_app = typer.Typer(help=_("Token signing keys and the master key."), no_args_is_help=True)


def _key_service(settings: Settings) -> KeyService:
    from datetime import timedelta

    return KeyService(
        SecretBox(settings.master_key_bytes, "signing-keys"),
        timedelta(seconds=settings.token_ttl_seconds),
    )


@keys_app.command(
    "rotate",
    help=_("Add a new signing key; tokens signed by older keys stay valid until they expire."),
)
def keys_rotate() -> None:
    """Add a new signing key; tokens signed by older keys stay valid until they expire."""
    settings = get_settings()
    require_schema(settings)
    keys = _key_service(settings)
    record = in_transaction(settings, keys.rotate)
    typer.echo(
        _("new signing key {kid} ({algorithm}); older keys retired").format(
            kid=record.kid, algorithm=record.algorithm
        )
    )


@keys_app.command("list", help=_("List signing keys and their state."))
def keys_list() -> None:
    """List signing keys and their state."""
    settings = get_settings()
    require_schema(settings)

    async def work(session: AsyncSession) -> list[str]:
        from gateway.signing_keys.repository import SigningKeyRepository

        return [
            f"{k.kid}  {k.algorithm}  created={k.created_at.isoformat()}  "
            f"{'retired=' + k.retired_at.isoformat() if k.retired_at else _('active')}"
            for k in await SigningKeyRepository(session).all()
        ]

    for line in in_transaction(settings, work):
        typer.echo(line)


def _data_keys(settings: Settings) -> Any:
    from gateway.core.data_keys import DataKeyring

    return DataKeyring(settings.master_key_bytes)


@keys_app.command(
    "rotate-data",
    help=_("Add a data key for personal data at rest; older keys keep opening what they sealed."),
)
def keys_rotate_data() -> None:
    """Add a data key for personal data at rest; older keys keep opening what they sealed.

    Running gateways take the new key for new records when they next start; run
    `keys reencrypt` to move stored records to it."""
    settings = get_settings()
    require_schema(settings)
    keyring = _data_keys(settings)

    async def work(session: AsyncSession) -> str:
        await keyring.load(session)
        key_id: str = await keyring.add(session)
        return key_id

    typer.echo(
        _("new data key {key_id}; older keys still open old data").format(
            key_id=in_transaction(settings, work)
        )
    )


@keys_app.command(
    "reencrypt", help=_("Re-seal every stored record under the newest data key, in batches.")
)
def keys_reencrypt(
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
) -> None:
    """Re-seal every stored record under the newest data key, in batches."""
    from gateway.core.data_keys import reencrypt
    from gateway.retention import sealed_columns

    settings = get_settings()
    require_schema(settings)
    keyring = _data_keys(settings)

    async def run() -> dict[str, int]:
        engine = create_engine(settings.database_url)
        try:
            return await reencrypt(session_factory(engine), keyring, sealed_columns())
        finally:
            await engine.dispose()

    counts = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps({"key_id": keyring.current_key_id, "reencrypted": counts}))
        return
    for name, count in counts.items():
        typer.echo(
            _("{name}: {count} re-sealed under {key_id}").format(
                name=name, count=count, key_id=keyring.current_key_id
            )
        )


@keys_app.command(
    "new-master",
    help=_("Print a fresh random master key for GATEWAY_MASTER_KEY (nothing is stored)."),
)
def keys_new_master() -> None:
    """Print a fresh random master key for GATEWAY_MASTER_KEY (nothing is stored)."""
    typer.echo(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
