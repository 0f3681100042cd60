"""``users``: the people who sign in to the web console (create, list, disable, reset a
password), each change an audit event naming the operator at the command line; and the
sandbox's console accounts, one per role, created on first start.

Messages are in the person's language (``LANGUAGE``/``LC_ALL``/``LC_MESSAGES``/``LANG``:
English when it names English, Spanish otherwise), from the ``console`` catalogs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.common import _, cli_actor, fail, get_settings, in_transaction, require_schema
from gateway.console.service import (
    ROLES,
    AccountError,
    Actor,
    accounts,
    count_accounts,
    create_account,
    disable_account,
    reset_password,
)
from gateway.settings import Settings

users_app = typer.Typer(help=_("The people who sign in to the web console."), no_args_is_help=True)

SANDBOX_USERS: tuple[dict[str, Any], ...] = (
    {"username": "operadora", "roles": ["operator"], "name": "Operadora del sandbox"},
    {"username": "auditora", "roles": ["auditor"], "name": "Auditora del sandbox"},
    {
        "username": "agente-his",
        "roles": ["partner-agent"],
        "partner": "minsa_his",
        "name": "Agente de MINSA HIS",
    },
    {"username": "admin-consola", "roles": ["admin"], "name": "Administración de la consola"},
)
SANDBOX_USERS_FILE = "sandbox-console-users.json"


def _partners(settings: Settings) -> set[str]:
    return set(type(settings.partners).model_fields)


def _operator_actor(operator: str | None) -> Actor:
    actor = cli_actor(operator)
    return Actor(user_id=actor.user_id or "unknown", request_id=actor.request_id)


def _refused(exc: AccountError) -> typer.Exit:
    return fail(f"--{exc.field}: " + _(exc.message).format(**exc.params), 2)


def _password_from(stdin: bool, ask: bool) -> str | None:
    if stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise fail(_("no password on standard input"), 2)
        return line
    if ask:
        return str(typer.prompt(_("Password"), hide_input=True, confirmation_prompt=True))
    return None


Operator = Annotated[
    str | None,
    typer.Option(help=_("Who makes the change, for the audit log (default: the login name).")),
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help=_("Read the password from standard input."))
]
AskPassword = Annotated[
    bool, typer.Option("--ask-password", help=_("Type the password at a prompt (not echoed)."))
]


@users_app.command(
    "create", help=_("Add a console user; prints a generated password once unless one is given.")
)
def users_create(
    username: Annotated[str, typer.Argument(help=_("Lowercase login name, e.g. mquispe."))],
    role: Annotated[
        list[str], typer.Option(help=_("Role, repeatable: {roles}.").format(roles=", ".join(ROLES)))
    ],
    partner: Annotated[
        str | None, typer.Option(help=_("The partner a partner-agent pushes files for."))
    ] = None,
    name: Annotated[str | None, typer.Option(help=_("The person's name as pages show it."))] = None,
    password_stdin: PasswordStdin = False,
    ask_password: AskPassword = False,
    operator: Operator = None,
) -> None:
    """Add a console user; prints a generated password once unless one is given."""
    settings = get_settings()
    require_schema(settings)
    given = _password_from(password_stdin, ask_password)

    async def work(session: AsyncSession) -> str:
        _account, password = await create_account(
            session,
            username,
            role,
            actor=_operator_actor(operator),
            partners=_partners(settings),
            display_name=name,
            partner=partner,
            password=given,
        )
        return password

    try:
        password = in_transaction(settings, work)
    except AccountError as exc:
        raise _refused(exc) from None
    typer.echo(_("console user {username} created").format(username=username))
    if given is None:
        typer.echo(f"password={password}")
        typer.echo(_("(the password is shown once)"))


@users_app.command("list", help=_("List console users (never their passwords)."))
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
) -> None:
    """List console users (never their passwords)."""
    settings = get_settings()
    require_schema(settings)

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "username": a.username,
                "name": a.display_name,
                "roles": a.roles,
                "partner": a.partner,
                "disabled": a.disabled,
                "locked_until": a.locked_until.isoformat() if a.locked_until else None,
                "created_at": a.created_at.isoformat(),
            }
            for a in await accounts(session)
        ]

    rows = in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps({"users": rows}, indent=2, ensure_ascii=False))
        return
    for r in rows:
        state = _("disabled") if r["disabled"] else _("active")
        partner = f"  partner={r['partner']}" if r["partner"] else ""
        typer.echo(f"{r['username']:<16} {state:<10} roles={','.join(r['roles'])}{partner}")


@users_app.command(
    "disable", help=_("Disable a console user: refused at sign-in, open sessions ended at once.")
)
def users_disable(
    username: Annotated[str, typer.Argument(help=_("Console username."))], operator: Operator = None
) -> None:
    """Disable a console user: refused at sign-in, open sessions ended at once."""
    settings = get_settings()
    require_schema(settings)

    async def work(session: AsyncSession) -> None:
        await disable_account(session, username, actor=_operator_actor(operator))

    try:
        in_transaction(settings, work)
    except AccountError as exc:
        raise _refused(exc) from None
    typer.echo(_("console user {username} disabled").format(username=username))


@users_app.command(
    "reset-password",
    help=_(
        "Set a new password (printed once when generated); ends open sessions and lifts a lockout."
    ),
)
def users_reset_password(
    username: Annotated[str, typer.Argument(help=_("Console username."))],
    password_stdin: PasswordStdin = False,
    ask_password: AskPassword = False,
    operator: Operator = None,
) -> None:
    """Set a new password (printed once when generated); ends open sessions and lifts a
    lockout."""
    settings = get_settings()
    require_schema(settings)
    given = _password_from(password_stdin, ask_password)

    async def work(session: AsyncSession) -> str:
        return await reset_password(
            session, username, actor=_operator_actor(operator), password=given
        )

    try:
        password = in_transaction(settings, work)
    except AccountError as exc:
        raise _refused(exc) from None
    typer.echo(_("new password set for {username}").format(username=username))
    if given is None:
        typer.echo(f"password={password}")
        typer.echo(_("(the password is shown once)"))


def console_banner(base: str, users: list[dict[str, Any]], path: Path) -> list[str]:
    """The banner's lines about the console: its address and, in sandbox mode, the
    accounts to sign in with (``users`` as :func:`seed_console_users` returns them)."""
    lines = [_("  Console: {url}").format(url=f"{base}/console")]
    if users:
        lines.append(_("    Sign in as (sandbox accounts, also in {path}):").format(path=path))
        for entry in users:
            partner = f" ({entry['partner']})" if entry.get("partner") else ""
            lines.append(
                f"      {entry['username']:<14} password={entry['password']}  "
                f"{','.join(entry['roles'])}{partner}"
            )
    return lines


def seed_console_users(settings: Settings) -> list[dict[str, Any]]:
    """In sandbox mode: on an empty console user table, create :data:`SANDBOX_USERS`
    with generated passwords and write them to ``var/sandbox-console-users.json`` (mode
    0600). Returns the accounts to print: the new ones, or those of the file written on
    first start (an empty list when users exist and the file does not)."""
    target = settings.var_dir / SANDBOX_USERS_FILE

    async def seed(session: AsyncSession) -> list[dict[str, Any]] | None:
        if await count_accounts(session):
            return None
        seeded = []
        for entry in SANDBOX_USERS:
            _account, password = await create_account(
                session,
                entry["username"],
                entry["roles"],
                actor=Actor("sandbox-seed"),
                partners=_partners(settings),
                display_name=entry["name"],
                partner=entry.get("partner"),
            )
            seeded.append(
                {
                    "username": entry["username"],
                    "password": password,
                    "roles": entry["roles"],
                    "partner": entry.get("partner"),
                }
            )
        return seeded

    seeded = in_transaction(settings, seed)
    if seeded is None:
        if not target.exists():
            return []
        written: list[dict[str, Any]] = json.loads(target.read_text())["users"]
        return written
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"users": seeded}, fh, indent=2)
    return seeded
