"""``clients``: the client registry (create, list, disable, enable, rotate a secret),
each change audited with the operator as actor."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.common import (
    Operator,
    _,
    cli_actor,
    fail,
    get_catalog,
    get_settings,
    in_transaction,
    require_schema,
    shown,
)
from gateway.clients.repository import ClientRepository
from gateway.clients.service import (
    ROLES,
    ClientError,
    ClientNotFound,
    LastAdminDisabled,
    create_client,
    disable_client,
    enable_client,
    rotate_secret,
)

clients_app = typer.Typer(help=_("The client registry."), no_args_is_help=True)


@clients_app.command(
    "create", help=_("Register a client and print its id and secret (shown once).")
)
def clients_create(
    name: Annotated[str, typer.Option(help=_("Human-readable name of the client system."))],
    role: Annotated[
        list[str], typer.Option(help=_("Role, repeatable: {roles}.").format(roles=", ".join(ROLES)))
    ],
    purpose: Annotated[
        list[str] | None, typer.Option(help=_("Allowed purpose from the catalog, repeatable."))
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
    operator: Operator = None,
) -> None:
    """Register a client and print its id and secret (shown once)."""
    settings = get_settings()
    catalog = get_catalog(settings)
    require_schema(settings)

    async def work(session: AsyncSession) -> tuple[str, str]:
        issued = await create_client(
            session, catalog, name, role, purpose or [], actor=cli_actor(operator)
        )
        return issued.client.id, issued.secret

    try:
        client_id, secret = in_transaction(settings, work)
    except ClientError as exc:
        raise fail(f"--{exc.field.rstrip('s')}: {shown(exc.message)}", 2) from None
    if as_json:
        typer.echo(json.dumps({"client_id": client_id, "client_secret": secret}))
    else:
        typer.echo(
            f"client_id={client_id}\nclient_secret={secret}\n" + _("(the secret is shown once)")
        )


@clients_app.command("list", help=_("List registered clients (never their secrets)."))
def clients_list(
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
) -> None:
    """List registered clients (never their secrets)."""
    settings = get_settings()
    require_schema(settings)

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "client_id": c.id,
                "name": c.name,
                "roles": c.roles,
                "purposes": c.purposes,
                "active": c.active,
                "created_at": c.created_at.isoformat(),
            }
            for c in await ClientRepository(session).list()
        ]

    rows = in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps({"clients": rows}, indent=2))
        return
    for r in rows:
        state = _("active") if r["active"] else _("disabled")
        typer.echo(
            f"{r['client_id']}  {state:<8}  {r['name']}  roles={','.join(r['roles'])}  "
            f"purposes={','.join(r['purposes'])}"
        )


@clients_app.command(
    "disable",
    help=_(
        "Disable a client: its tokens stop working at once and stay refused if it is enabled "
        "again. The last active admin client cannot be disabled."
    ),
)
def clients_disable(
    client_id: Annotated[str, typer.Argument(help=_("Client id."))], operator: Operator = None
) -> None:
    """Disable a client: its tokens stop working at once (and stay refused if it is
    enabled again). The last active admin client cannot be disabled."""
    settings = get_settings()
    require_schema(settings)

    async def work(session: AsyncSession) -> None:
        await disable_client(session, client_id, actor=cli_actor(operator))

    try:
        in_transaction(settings, work)
    except ClientNotFound as exc:
        raise fail(shown(exc.message)) from None
    except LastAdminDisabled:
        raise fail(
            _(
                "client {client_id} is the last active admin client; "
                "enable or create another admin first"
            ).format(client_id=client_id),
            3,
        ) from None
    typer.echo(_("client {client_id} disabled").format(client_id=client_id))


@clients_app.command(
    "enable",
    help=_("Enable a disabled client; it needs new tokens (those issued before stay refused)."),
)
def clients_enable(
    client_id: Annotated[str, typer.Argument(help=_("Client id."))], operator: Operator = None
) -> None:
    """Enable a disabled client; it needs new tokens (those issued before stay refused)."""
    settings = get_settings()
    require_schema(settings)

    async def work(session: AsyncSession) -> None:
        await enable_client(session, client_id, actor=cli_actor(operator))

    try:
        in_transaction(settings, work)
    except ClientNotFound as exc:
        raise fail(shown(exc.message)) from None
    typer.echo(_("client {client_id} enabled").format(client_id=client_id))


@clients_app.command(
    "rotate-secret",
    help=_(
        "Give a client a new secret and print it (shown once); the old secret and the tokens "
        "issued before stop working at once."
    ),
)
def clients_rotate_secret(
    client_id: Annotated[str, typer.Argument(help=_("Client id."))],
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
    operator: Operator = None,
) -> None:
    """Give a client a new secret and print it (shown once). The old secret stops working
    at once, and so do the tokens issued before."""
    settings = get_settings()
    require_schema(settings)

    async def work(session: AsyncSession) -> str:
        return (await rotate_secret(session, client_id, actor=cli_actor(operator))).secret

    try:
        secret = in_transaction(settings, work)
    except ClientNotFound as exc:
        raise fail(shown(exc.message)) from None
    if as_json:
        typer.echo(json.dumps({"client_id": client_id, "client_secret": secret}))
    else:
        typer.echo(
            f"client_id={client_id}\nclient_secret={secret}\n"
            + _(
                "(the secret is shown once; "
                "the old one and the tokens issued with it no longer work)"
            )
        )
