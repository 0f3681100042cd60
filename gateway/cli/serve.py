"""``serve``: the gateway (and, in sandbox mode, the partner mocks, one client per role
and one console user per role) on one port, in one process or several."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.catalog.models import Catalog
from gateway.cli.common import (
    DEMO_REPORT_FILE,
    SANDBOX_CLIENTS_FILE,
    _,
    cli_actor,
    fail,
    get_catalog,
    get_settings,
    in_transaction,
    process_runner,
    require_schema,
)
from gateway.cli.users import SANDBOX_USERS_FILE, console_banner, seed_console_users
from gateway.clients.repository import ClientRepository
from gateway.clients.service import create_client
from gateway.settings import Settings

SANDBOX_ROLES: dict[str, list[str]] = {
    "consumer": [
        "affiliation",
        "contact",
        "payment",
        "coresponsibility-verification",
        "health-follow-up",
    ],
    "partner": ["affiliation", "contact", "payment", "coresponsibility-verification"],
    "auditor": ["audit"],
    "admin": ["audit"],
}


def seed_sandbox(settings: Settings, catalog: Catalog) -> None:
    """On an empty client registry, create one client per role of ``SANDBOX_ROLES`` and
    write their ids and secrets to ``var/sandbox-clients.json`` (mode 0600)."""
    target = settings.var_dir / SANDBOX_CLIENTS_FILE

    async def seed(session: AsyncSession) -> list[dict[str, Any]] | None:
        if await ClientRepository(session).count():
            return None
        seeded = []
        for role, purposes in SANDBOX_ROLES.items():
            granted = [p for p in purposes if p in catalog.purposes]
            issued = await create_client(
                session,
                catalog,
                f"sandbox-{role}",
                [role],
                granted,
                actor=cli_actor("sandbox-seed"),
            )
            seeded.append(
                {
                    "role": role,
                    "client_id": issued.client.id,
                    "client_secret": issued.secret,
                    "purposes": granted,
                }
            )
        return seeded

    seeded = in_transaction(settings, seed)
    if seeded is None:
        if target.exists():
            typer.echo(
                _("Sandbox clients (created on first start) are in {path}").format(path=target)
            )
        else:
            typer.echo(
                _("Clients exist already; create more with `juntos-gateway clients create`.")
            )
        return
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"clients": seeded}, fh, indent=2)
    typer.echo(_("Sandbox clients created (also written to {path}):").format(path=target))
    for entry in seeded:
        typer.echo(
            f"  {entry['role']:<9} client_id={entry['client_id']}  "
            f"client_secret={entry['client_secret']}"
        )


def serve(
    host: Annotated[str | None, typer.Option(help=_("Bind address [GATEWAY_HOST]."))] = None,
    port: Annotated[int | None, typer.Option(help=_("Port [GATEWAY_PORT]."))] = None,
    with_mocks: Annotated[
        bool | None,
        typer.Option(
            "--mocks/--no-mocks",
            help=_(
                "Also serve the mock agencies and the SMS centre on their ports (on in sandbox "
                "mode)."
            ),
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help=_("Gateway processes on one database [GATEWAY_WORKERS].")),
    ] = None,
) -> None:
    """Start the gateway (in sandbox mode, seed one client per role on first start)."""
    import uvicorn

    from adapters.sandbox.server import (
        Server,
        endpoints,
        mock_servers,
        serve_all,
        smsc_admin_url,
    )
    from adapters.sandbox.settings import SandboxSettings
    from gateway.app import create_app
    from gateway.core.logging import configure_logging

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    catalog = get_catalog(settings)
    require_schema(settings)
    processes = workers or settings.workers
    run_mocks = with_mocks if with_mocks is not None else settings.is_sandbox
    mock_ports = (
        {
            f"GATEWAY_SANDBOX_{e.partner.upper()}_PORT": (e.host, e.port)
            for e in endpoints(SandboxSettings())
        }
        if run_mocks
        else {}
    )
    busy = [
        (variable, bind_host, bind_port)
        for variable, (bind_host, bind_port) in {"GATEWAY_PORT": (host, port), **mock_ports}.items()
        if not port_is_free(bind_host, bind_port)
    ]
    if len(busy) == 1:
        variable, bind_host, bind_port = busy[0]
        raise fail(
            _(
                "port {port} on {host} is in use (another gateway running?): "
                "stop it or set {variable} to a free port"
            ).format(port=bind_port, host=bind_host, variable=variable)
        )
    if busy:  # every one at once: a second sandbox finds all of its ports taken
        raise fail(
            _(
                "ports in use (another gateway running?): {ports}; stop it or set these "
                "variables to free ports"
            ).format(ports=", ".join(f"{v} ({h}:{p})" for v, h, p in busy))
        )
    console_users: list[dict[str, Any]] = []
    if settings.is_sandbox:
        seed_sandbox(settings, catalog)
        console_users = seed_console_users(settings)
    base = f"http://{host}:{port}"
    typer.echo(
        "\n"
        + _("JUNTOS gateway ({env}) on {base}").format(env=settings.env, base=base)
        + "\n  "
        + _("API docs:   {url}").format(url=f"{base}/docs")
        + "\n  "
        + _("OpenAPI:    {url}").format(url=f"{base}/openapi.json")
        + "\n  "
        + _("Readiness:  {readiness}   Metrics: {metrics}").format(
            readiness=f"{base}/readyz", metrics=f"{base}/metrics"
        )
        + "\n  "
        + _("Get a token:")
        + "\n    curl -s -u <client_id>:<client_secret> -d grant_type=client_credentials \\\n"
        + f"         {base}/v1/token\n  "
        + _("Then: {command}").format(
            command=f"curl -s -H 'Authorization: Bearer <access_token>' {base}/v1/services"
        )
    )
    for line in console_banner(base, console_users, settings.var_dir / SANDBOX_USERS_FILE):
        typer.echo(line)
    if settings.is_sandbox:
        report = settings.var_dir / DEMO_REPORT_FILE
        clients = settings.var_dir / SANDBOX_CLIENTS_FILE
        command = f".venv/bin/juntos-gateway demo --gateway {base}"
        if settings.var_dir != Path("var"):  # said, for a shell without GATEWAY_VAR_DIR
            command += f" --credentials {shlex.quote(str(clients))}"
            command += f" --report {shlex.quote(str(report))}"
        typer.echo(
            "  "
            + _("Play the DU 095-2020 operation against it (report in {path}):").format(path=report)
            + f"\n    {command}"
        )
        if not clients.exists():  # this database's clients were written elsewhere
            typer.echo(
                "    "
                + _(
                    "{path} does not exist: this database's sandbox clients were written "
                    "to another var directory; pass theirs with --credentials, or create "
                    "one per role with `juntos-gateway clients create`."
                ).format(path=clients)
            )
    if run_mocks:
        sandbox = SandboxSettings()
        typer.echo(
            "  "
            + _(
                "Partner mocks ({size} synthetic households; "
                "`juntos-gateway population sample` prints some):"
            ).format(size=sandbox.size)
        )
        for endpoint in endpoints(sandbox):
            typer.echo(f"    {endpoint.partner:<10} {endpoint.entry_url}")
            if endpoint.partner == "smsc":
                typer.echo(f"    {'':<10} admin: {smsc_admin_url(sandbox)}/_admin/faults")
            # The gateway talks to the mocks it started, unless told otherwise.
            variable = f"GATEWAY_PARTNERS__{endpoint.partner.upper()}__BASE_URL"
            if variable not in os.environ:
                getattr(settings.partners, endpoint.partner).base_url = endpoint.base_url
                os.environ[variable] = endpoint.base_url  # for worker processes
    typer.echo("  " + _("Partner addresses the gateway calls:"))
    for name in type(settings.partners).model_fields:
        variable = f"GATEWAY_PARTNERS__{name.upper()}__BASE_URL"
        typer.echo(f"    {name:<10} {getattr(settings.partners, name).base_url}  [{variable}]")
    typer.echo("  " + _("Gateway processes: {count}").format(count=processes) + "\n")
    sys.stdout.flush()
    if processes > 1:
        # The mocks then run in a process of their own, started by _serve_workers.
        _serve_workers(host, port, processes, with_mocks=run_mocks)
        return
    servers = mock_servers(SandboxSettings()) if run_mocks else []
    configure_logging(settings.log_level, settings.log_json)
    gateway = Server(
        uvicorn.Config(
            create_app(settings), host=host, port=port, log_level="warning", access_log=False
        )
    )
    # uvloop where installed, as uvicorn itself picks for the workers of ``--workers N``.
    with process_runner() as runner:
        runner.run(serve_all([gateway, *servers]))


def port_is_free(host: str, port: int) -> bool:
    """Whether a server may bind ``host:port`` now (with ``SO_REUSEADDR``, as uvicorn
    binds, so a port in TIME_WAIT counts as free)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _serve_workers(host: str, port: int, processes: int, *, with_mocks: bool) -> None:
    """N stateless gateway processes on one database (and the mocks in one more)."""
    import subprocess

    import uvicorn

    mocks = subprocess.Popen([sys.executable, "-m", "gateway.cli", "mocks"]) if with_mocks else None
    try:
        uvicorn.run(
            "gateway.app:create_app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            log_level="warning",
            access_log=False,
        )
    finally:
        if mocks is not None:
            mocks.terminate()
            mocks.wait(timeout=15)
