"""``juntos-gateway``: serve the gateway and administer it from a shell.

The CLI works on the same services as the HTTP API, inside one transaction per command.
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import json
import os
import secrets
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sandbox.cli import mocks, population_app
from gateway import migrate
from gateway.catalog.loader import CatalogError, load_catalog
from gateway.catalog.models import Catalog
from gateway.clients.repository import ClientRepository
from gateway.clients.service import (
    ROLES,
    Actor,
    ClientError,
    ClientNotFound,
    LastAdminDisabled,
    create_client,
    disable_client,
    enable_client,
    rotate_secret,
)
from gateway.core.crypto import SecretBox
from gateway.core.db import create_engine, session_factory, transaction
from gateway.keys.service import KeyService
from gateway.settings import ConfigurationError, Settings

app = typer.Typer(
    help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
clients_app = typer.Typer(help="The client registry.", no_args_is_help=True)
keys_app = typer.Typer(help="Token signing keys and the master key.", no_args_is_help=True)
catalog_app = typer.Typer(help="The policy catalog.", no_args_is_help=True)
exchanges_app = typer.Typer(help="Periodic exchanges (durable jobs).", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
contract_app = typer.Typer(help="The gateway's committed OpenAPI contract.", no_args_is_help=True)
partners_app = typer.Typer(help="Partner agencies: credentials.", no_args_is_help=True)
reniec_app = typer.Typer(help="RENIEC (PIDE ReniecConsultaDni).", no_args_is_help=True)
partners_app.add_typer(reniec_app, name="reniec")
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
app.add_typer(catalog_app, name="catalog")
app.add_typer(contract_app, name="contract")
app.add_typer(audit_app, name="audit")
app.add_typer(exchanges_app, name="exchanges")
app.add_typer(partners_app, name="partners")
app.add_typer(population_app, name="population")
app.command("mocks")(mocks)

T = TypeVar("T")
SANDBOX_ROLES: dict[str, list[str]] = {
    "consumer": ["affiliation", "contact", "payment", "coresponsibility-verification"],
    "partner": ["affiliation", "contact", "payment", "coresponsibility-verification"],
    "auditor": ["audit"],
    "admin": ["audit"],
}


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = Settings()
        settings.check_safe()
    except (ConfigurationError, ValueError) as exc:
        raise _fail(str(exc)) from None
    return settings


def _catalog(settings: Settings) -> Catalog:
    try:
        return load_catalog(settings.catalog_path, settings.catalog_schema_path)
    except CatalogError as exc:
        raise _fail(str(exc)) from None


def _prepare_sqlite_dir(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


Operator = Annotated[
    str | None,
    typer.Option(help="Who makes the change, for the audit log (default: the login name)."),
]


def _actor(operator: str | None) -> Actor:
    """The audit log's record of a command-line change: no client, the operator."""
    if not operator:
        try:
            operator = getpass.getuser()
        except (KeyError, OSError):  # no login name in a bare container
            operator = "unknown"
    return Actor(request_id=f"cli:{uuid.uuid4()}", user_id=operator[:64])


def _require_schema(settings: Settings) -> None:
    head = migrate.head_revision(settings.database_url)
    current = migrate.current_revision(settings.database_url)
    if current != head:
        raise _fail(
            f"database schema is at {current or 'nothing'}, expected {head}: "
            "run `juntos-gateway db upgrade`"
        )


def _key_service(settings: Settings) -> KeyService:
    from datetime import timedelta

    return KeyService(
        SecretBox(settings.master_key_bytes, "signing-keys"),
        timedelta(seconds=settings.token_ttl_seconds),
    )


# ---------------------------------------------------------------- serve


def seed_sandbox(settings: Settings, catalog: Catalog) -> None:
    target = settings.var_dir / "sandbox-clients.json"

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
                actor=_actor("sandbox-seed"),
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

    seeded = _in_transaction(settings, seed)
    if seeded is None:
        if target.exists():
            typer.echo(f"Sandbox clients (created on first start) are in {target}")
        else:
            typer.echo("Clients exist already; create more with `juntos-gateway clients create`.")
        return
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"clients": seeded}, fh, indent=2)
    typer.echo(f"Sandbox clients created (also written to {target}):")
    for entry in seeded:
        typer.echo(
            f"  {entry['role']:<9} client_id={entry['client_id']}  "
            f"client_secret={entry['client_secret']}"
        )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [GATEWAY_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [GATEWAY_PORT].")] = None,
    with_mocks: Annotated[
        bool | None,
        typer.Option(
            "--mocks/--no-mocks",
            help="Also serve the four mock agencies on their ports [on in sandbox mode].",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Gateway processes on one database [GATEWAY_WORKERS]."),
    ] = None,
) -> None:
    """Start the gateway (in sandbox mode, seed one client per role on first start)."""
    import uvicorn

    from adapters.sandbox.server import Server, endpoints, mock_servers, serve_all
    from adapters.sandbox.settings import SandboxSettings
    from gateway.app import create_app
    from gateway.core.logging import configure_logging

    settings = _settings()
    host = host or settings.host
    port = port or settings.port
    catalog = _catalog(settings)
    _require_schema(settings)
    if settings.is_sandbox:
        seed_sandbox(settings, catalog)
    base = f"http://{host}:{port}"
    typer.echo(
        f"\nJUNTOS gateway ({settings.env}) on {base}\n"
        f"  API docs:   {base}/docs\n"
        f"  OpenAPI:    {base}/openapi.json\n"
        f"  Readiness:  {base}/readyz   Metrics: {base}/metrics\n"
        f"  Get a token:\n"
        f"    curl -s -u <client_id>:<client_secret> -d grant_type=client_credentials \\\n"
        f"         {base}/v1/token\n"
        f"  Then: curl -s -H 'Authorization: Bearer <access_token>' {base}/v1/services"
    )
    if settings.is_sandbox:
        typer.echo(
            "  Play the DU 095-2020 operation against it (report in var/demo-report.html):\n"
            f"    .venv/bin/juntos-gateway demo --gateway {base}"
        )
    processes = workers or settings.workers
    run_mocks = with_mocks if with_mocks is not None else settings.is_sandbox
    if run_mocks:
        sandbox = SandboxSettings()
        typer.echo(
            f"  Partner mocks ({sandbox.size} synthetic households; "
            "`juntos-gateway population sample` prints some):"
        )
        for endpoint in endpoints(sandbox):
            typer.echo(f"    {endpoint.partner:<10} {endpoint.entry_url}")
            # The gateway talks to the mocks it started, unless told otherwise.
            variable = f"GATEWAY_PARTNERS__{endpoint.partner.upper()}__BASE_URL"
            if variable not in os.environ:
                getattr(settings.partners, endpoint.partner).base_url = endpoint.base_url
                os.environ[variable] = endpoint.base_url  # for worker processes
    typer.echo(f"  Gateway processes: {processes}\n")
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
    # uvloop, as uvicorn itself picks when it runs the workers of ``--workers N``.
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve_all([gateway, *servers]))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # not installed on Windows
        return None
    return uvloop.new_event_loop


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


# ---------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations to the database named by GATEWAY_DATABASE_URL."""
    settings = _settings()
    _prepare_sqlite_dir(settings.database_url)
    migrate.upgrade(settings.database_url, revision)
    typer.echo(f"database at revision {migrate.current_revision(settings.database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current and the code's head revision."""
    settings = _settings()
    typer.echo(
        f"current={migrate.current_revision(settings.database_url)} "
        f"head={migrate.head_revision(settings.database_url)}"
    )


# ---------------------------------------------------------------- clients


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Human-readable name of the client system.")],
    role: Annotated[list[str], typer.Option(help=f"Role, repeatable: {', '.join(ROLES)}.")],
    purpose: Annotated[
        list[str] | None, typer.Option(help="Allowed purpose from the catalog, repeatable.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    operator: Operator = None,
) -> None:
    """Register a client and print its id and secret (shown once)."""
    settings = _settings()
    catalog = _catalog(settings)
    _require_schema(settings)

    async def work(session: AsyncSession) -> tuple[str, str]:
        issued = await create_client(
            session, catalog, name, role, purpose or [], actor=_actor(operator)
        )
        return issued.client.id, issued.secret

    try:
        client_id, secret = _in_transaction(settings, work)
    except ClientError as exc:
        raise _fail(f"--{exc.field.rstrip('s')}: {exc}", 2) from None
    if as_json:
        typer.echo(json.dumps({"client_id": client_id, "client_secret": secret}))
    else:
        typer.echo(f"client_id={client_id}\nclient_secret={secret}\n(the secret is shown once)")


@clients_app.command("list")
def clients_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered clients (never their secrets)."""
    settings = _settings()
    _require_schema(settings)

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

    rows = _in_transaction(settings, work)
    if as_json:
        typer.echo(json.dumps({"clients": rows}, indent=2))
        return
    for r in rows:
        state = "active" if r["active"] else "disabled"
        typer.echo(
            f"{r['client_id']}  {state:<8}  {r['name']}  roles={','.join(r['roles'])}  "
            f"purposes={','.join(r['purposes'])}"
        )


@clients_app.command("disable")
def clients_disable(
    client_id: Annotated[str, typer.Argument(help="Client id.")], operator: Operator = None
) -> None:
    """Disable a client: its tokens stop working at once (and stay refused if it is
    enabled again). The last active admin client cannot be disabled."""
    settings = _settings()
    _require_schema(settings)

    async def work(session: AsyncSession) -> None:
        await disable_client(session, client_id, actor=_actor(operator))

    try:
        _in_transaction(settings, work)
    except ClientNotFound as exc:
        raise _fail(str(exc)) from None
    except LastAdminDisabled:
        raise _fail(
            f"client {client_id} is the last active admin client; "
            "enable or create another admin first",
            3,
        ) from None
    typer.echo(f"client {client_id} disabled")


@clients_app.command("enable")
def clients_enable(
    client_id: Annotated[str, typer.Argument(help="Client id.")], operator: Operator = None
) -> None:
    """Enable a disabled client; it needs new tokens (those issued before stay refused)."""
    settings = _settings()
    _require_schema(settings)

    async def work(session: AsyncSession) -> None:
        await enable_client(session, client_id, actor=_actor(operator))

    try:
        _in_transaction(settings, work)
    except ClientNotFound as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"client {client_id} enabled")


@clients_app.command("rotate-secret")
def clients_rotate_secret(
    client_id: Annotated[str, typer.Argument(help="Client id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    operator: Operator = None,
) -> None:
    """Give a client a new secret and print it (shown once). The old secret stops working
    at once, and so do the tokens issued before."""
    settings = _settings()
    _require_schema(settings)

    async def work(session: AsyncSession) -> str:
        return (await rotate_secret(session, client_id, actor=_actor(operator))).secret

    try:
        secret = _in_transaction(settings, work)
    except ClientNotFound as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({"client_id": client_id, "client_secret": secret}))
    else:
        typer.echo(
            f"client_id={client_id}\nclient_secret={secret}\n(the secret is shown once; "
            "the old one and the tokens issued with it no longer work)"
        )


# ---------------------------------------------------------------- keys


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; tokens signed by older keys stay valid until they expire."""
    settings = _settings()
    _require_schema(settings)
    keys = _key_service(settings)
    record = _in_transaction(settings, keys.rotate)
    typer.echo(f"new signing key {record.kid} ({record.algorithm}); older keys retired")


@keys_app.command("list")
def keys_list() -> None:
    """List signing keys and their state."""
    settings = _settings()
    _require_schema(settings)

    async def work(session: AsyncSession) -> list[str]:
        from gateway.keys.repository import SigningKeyRepository

        return [
            f"{k.kid}  {k.algorithm}  created={k.created_at.isoformat()}  "
            f"{'retired=' + k.retired_at.isoformat() if k.retired_at else 'active'}"
            for k in await SigningKeyRepository(session).all()
        ]

    for line in _in_transaction(settings, work):
        typer.echo(line)


def _data_keys(settings: Settings) -> Any:
    from gateway.core.keyring import DataKeyring

    return DataKeyring(settings.master_key_bytes)


@keys_app.command("rotate-data")
def keys_rotate_data() -> None:
    """Add a data key for personal data at rest; older keys keep opening what they sealed.

    Running gateways take the new key for new records when they next start; run
    `keys reencrypt` to move stored records to it."""
    settings = _settings()
    _require_schema(settings)
    keyring = _data_keys(settings)

    async def work(session: AsyncSession) -> str:
        await keyring.load(session)
        key_id: str = await keyring.add(session)
        return key_id

    typer.echo(f"new data key {_in_transaction(settings, work)}; older keys still open old data")


@keys_app.command("reencrypt")
def keys_reencrypt(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Re-seal every stored record under the newest data key, in batches."""
    from gateway.core.keyring import reencrypt
    from gateway.retention import sealed_columns

    settings = _settings()
    _require_schema(settings)
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
        typer.echo(f"{name}: {count} re-sealed under {keyring.current_key_id}")


@app.command()
def demo(
    households: Annotated[
        int, typer.Option(min=1, max=2_000_000, help="Synthetic households (population size).")
    ] = 2_000,
    seed: Annotated[int, typer.Option(help="Seed of the population and of the calls.")] = 2020,
    faults: Annotated[
        str, typer.Option(help="Partner fault profile of the sandbox: none, flaky or slow.")
    ] = "none",
    gateway: Annotated[
        str | None,
        typer.Option(help="A running gateway's URL; without it one is started in-process."),
    ] = None,
    credentials: Annotated[
        Path, typer.Option(help="Client credentials per role, for --gateway.")
    ] = Path("var/sandbox-clients.json"),
    report: Annotated[Path, typer.Option(help="Where to write the HTML report.")] = Path(
        "var/demo-report.html"
    ),
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Calls in flight.")] = 16,
    as_of: Annotated[
        str, typer.Option(help="The operation's date, YYYY-MM-DD (the sandbox's is 2021-03-01).")
    ] = "2021-03-01",
) -> None:
    """Play the DU 095-2020 operation end to end through the gateway's public API:
    newborns, eligibility, phone affiliation with consent, accounts, the first transfer,
    health verdicts and the semáforo, the second transfer, the audit check."""
    from datetime import date

    from program.demo import FAULT_PROFILES, run_demo

    if faults not in FAULT_PROFILES:
        raise _fail(f"--faults must be one of {', '.join(FAULT_PROFILES)}")
    if gateway and faults != "none":
        raise _fail("--faults applies to the in-process sandbox; set faults on your mocks")
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise _fail("--as-of must be a date YYYY-MM-DD") from None
    if gateway and not credentials.exists():
        raise _fail(f"{credentials}: no such file (start the gateway in sandbox mode first)")
    results = run_demo(
        households=households,
        seed=seed,
        faults=faults,
        gateway_url=gateway,
        credentials=credentials,
        report=report,
        concurrency=concurrency,
        as_of=day,
    )
    if not results.audit.get("ok"):
        raise typer.Exit(1)


@app.command("purge")
def purge_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what is past retention, delete nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Delete personal data past the catalog's retention and report counts per category."""
    from gateway.retention import purge

    settings = _settings()
    _require_schema(settings)
    catalog = _catalog(settings)

    async def run() -> dict[str, int]:
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                return await purge(session, catalog, dry_run=dry_run)
        finally:
            await engine.dispose()

    counts = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "purged": counts}))
        return
    verb = "past retention" if dry_run else "purged"
    for category, count in counts.items():
        typer.echo(f"{category}: {count} {verb}")


# ---------------------------------------------------------------- exchanges


def _with_state(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from gateway.state import AppState

    async def run() -> T:
        state = AppState.build(settings, _catalog(settings))
        try:
            async with transaction(state.sessions) as session:
                await state.keyring.load(session)
            return await work(state)
        finally:
            await state.aclose()

    return asyncio.run(run())


@reniec_app.command("renew-credential")
def reniec_renew_credential() -> None:
    """Renew the gateway's RENIEC password (actualizarcredencial), the answer to 1002.

    A new password is made up, RENIEC replaces the one in force with it, and it is
    stored sealed; running gateways use it from their next call. It is never shown."""
    import getpass
    import uuid

    from gateway.partners.credentials import Actor
    from gateway.partners.errors import PartnerError

    settings = _settings()
    _require_schema(settings)

    async def work(state: Any) -> Any:
        adapter = state.partners.credentials.get("reniec")
        if adapter is None:
            raise _fail("the configured adapters do not renew a RENIEC credential")
        try:
            operator = getpass.getuser()
        except (KeyError, OSError):  # no account name in this environment
            operator = "unknown"
        actor = Actor(request_id=f"cli:{uuid.uuid4()}", user_id=f"cli:{operator}")
        try:
            return await state.credentials.renew(adapter, actor)
        except PartnerError as exc:
            raise _fail(f"RENIEC refused the renewal: {exc.detail}") from None

    renewal = _with_state(settings, work)
    typer.echo(f"RENIEC credential renewed at {renewal.renewed_at.isoformat()} (stored sealed)")


@exchanges_app.command("run")
def exchanges_run(
    name: Annotated[str, typer.Argument(help="Exchange name from the catalog.")],
    born_from: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    born_to: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    ubigeo: Annotated[
        list[str] | None, typer.Option(help="INEI district code (repeatable).")
    ] = None,
) -> None:
    """Queue a run; a gateway (or `exchanges work`) carries it out."""
    from datetime import date

    from gateway.districts import load_table
    from gateway.identifiers import IdentifierError

    settings = _settings()
    _require_schema(settings)
    try:
        districts = load_table(settings.ubigeo_file)
        codes = [districts.to_inei(code, "inei") for code in ubigeo or []]
    except IdentifierError as exc:
        raise _fail(f"--ubigeo: {exc}") from None
    try:
        params = {
            "born_from": date.fromisoformat(born_from).isoformat(),
            "born_to": date.fromisoformat(born_to).isoformat(),
            "ubigeo": codes,
        }
    except ValueError:
        raise _fail("--born-from and --born-to take YYYY-MM-DD") from None

    async def work(state: Any) -> Any:
        async with transaction(state.sessions) as session:
            return await state.exchanges.trigger(session, name, params, "cli")

    try:
        run = _with_state(settings, work)
    except Exception as exc:
        raise _fail(str(getattr(exc, "detail", exc))) from None
    typer.echo(json.dumps(run))


@exchanges_app.command("work")
def exchanges_work(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop when no run is ready instead of polling.")
    ] = False,
) -> None:
    """Carry queued runs in this process (the gateway does this itself by default)."""
    settings = _settings()
    _require_schema(settings)

    async def work(state: Any) -> int:
        if until_idle:
            worked: int = await state.jobs.work_available()
            return worked + int(await state.jobs.run_task("deliveries"))
        await state.jobs.run_forever(settings.exchanges_poll_seconds)
        return 0

    typer.echo(f"runs worked: {_with_state(settings, work)}")


@exchanges_app.command("show")
def exchanges_show(
    name: Annotated[str, typer.Argument()],
    run_id: Annotated[str, typer.Argument()],
) -> None:
    """Progress of one run, as JSON."""
    settings = _settings()
    _require_schema(settings)

    async def work(state: Any) -> Any:
        async with transaction(state.sessions) as session:
            return await state.exchanges.get(session, name, run_id)

    try:
        typer.echo(json.dumps(_with_state(settings, work)))
    except Exception as exc:
        raise _fail(str(getattr(exc, "detail", exc))) from None


# ---------------------------------------------------------------- audit


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    elif report.ok:
        typer.echo(
            f"audit chain intact: {report.events_checked} events "
            f"({report.first_seq}..{report.last_seq}), {report.checkpoints_checked} signed "
            f"checkpoints, {report.archives_checked} archives, {report.unsealed} not yet sealed"
        )
    else:
        typer.secho(
            f"audit chain BROKEN at event {report.first_broken_seq}: {report.reason}",
            fg=typer.colors.RED,
            err=True,
        )
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    archive: Annotated[
        Path | None,
        typer.Option(help="Verify archive files in this directory offline instead."),
    ] = None,
    public_key: Annotated[
        list[str] | None,
        typer.Option(help="KEY_ID=BASE64URL public key (repeatable); for --archive."),
    ] = None,
    from_seq: Annotated[int | None, typer.Option(min=1)] = None,
    to_seq: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Check every event hash and checkpoint signature; exit 1 naming the first broken
    event. With --archive, needs nothing but the archive files and the public key."""
    from gateway.auditing.service import verify, verify_offline

    if archive is not None:
        from audit.verify import public_key_from_text

        keys: dict[str, Any] = {}
        for item in public_key or []:
            key_id, sep, text = item.partition("=")
            if not sep:
                raise _fail("--public-key takes KEY_ID=BASE64URL (from GET /v1/audit/keys)")
            try:
                keys[key_id] = public_key_from_text(text)
            except ValueError:
                raise _fail(f"--public-key {key_id}: not an Ed25519 public key") from None
        if not keys:
            raise _fail("offline verification needs --public-key")
        _print_report(verify_offline(archive, keys), as_json)
        return
    settings = _settings()
    _require_schema(settings)
    workers = min(4, os.cpu_count() or 1)
    _print_report(verify(settings.database_url, from_seq, to_seq, workers), as_json)


@audit_app.command("seal")
def audit_seal() -> None:
    """Chain every event that can be chained now and sign a checkpoint (the gateway does
    this continuously; useful before an archive or after an outage)."""
    from audit.sealer import SealPolicy
    from gateway.auditing.keys import AuditKeys
    from gateway.auditing.service import AuditSealer

    settings = _settings()
    _require_schema(settings)

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        try:
            sealer = AuditSealer(
                session_factory(engine),
                AuditKeys(settings.master_key_bytes),
                SealPolicy(
                    checkpoint_every=settings.audit_checkpoint_every,
                    checkpoint_seconds=0.0001,
                    gap_grace_seconds=settings.audit_gap_grace_seconds,
                ),
                interval_seconds=0,
            )
            return await sealer.seal_now()
        finally:
            await engine.dispose()

    result = asyncio.run(run())
    typer.echo(
        f"sealed {result.sealed} events ({result.voided} void), head {result.head_seq}, "
        f"checkpoints at {result.checkpoints or 'none'}"
    )


@audit_app.command("archive")
def audit_archive(
    out: Annotated[Path | None, typer.Option(help="Directory [GATEWAY_AUDIT_ARCHIVE_DIR].")] = None,
    remove: Annotated[
        bool,
        typer.Option(
            "--remove",
            help="Archive only events past the audit retention and delete them from the database.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Seal the chain up to its last checkpoint into JSONL plus a signed manifest that
    chains to the previous archive; verify it offline with `audit verify --archive`."""
    from datetime import UTC, datetime, timedelta

    from audit.events import to_us
    from gateway.auditing.service import archive

    settings = _settings()
    _require_schema(settings)
    directory = out or settings.audit_archive_dir
    older_than = None
    if remove:
        days = _catalog(settings).data_categories["audit"].retention_days
        older_than = to_us(datetime.now(UTC) - timedelta(days=days))
    try:
        manifest = archive(
            settings.database_url,
            settings.master_key_bytes,
            directory,
            older_than_us=older_than,
            remove=remove,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if manifest is None:
        typer.echo(json.dumps(None) if as_json else "nothing to archive")
        return
    if as_json:
        typer.echo(json.dumps(manifest))
        return
    typer.echo(
        f"archived events {manifest['first_seq']}..{manifest['last_seq']} to "
        f"{directory / manifest['file']}{' and removed them from the database' if remove else ''}"
    )


@keys_app.command("new-master")
def keys_new_master() -> None:
    """Print a fresh random master key for GATEWAY_MASTER_KEY (nothing is stored)."""
    typer.echo(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())


# ---------------------------------------------------------------- catalog and contract


@catalog_app.command("check")
def catalog_check(
    path: Annotated[Path | None, typer.Argument(help="Catalog file [the configured one].")] = None,
) -> None:
    """Validate a policy catalog and report every fault with its line."""
    settings = Settings()
    target = path or settings.catalog_path
    try:
        catalog = load_catalog(target, settings.catalog_schema_path)
    except CatalogError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{target}: ok ({len(catalog.services)} services, {len(catalog.purposes)} purposes)")


def _openapi_document() -> dict[str, Any]:
    from gateway.app import create_app

    settings = Settings(env="sandbox", database_url="sqlite:///:memory:")
    return create_app(settings).openapi()


@contract_app.command("export")
def contract_export(
    path: Annotated[Path, typer.Argument(help="Where to write the OpenAPI YAML.")] = Path(
        "contracts/gateway/openapi.yaml"
    ),
) -> None:
    """Write the OpenAPI document the gateway serves."""
    text = yaml.safe_dump(_openapi_document(), sort_keys=False, allow_unicode=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {path}")


if __name__ == "__main__":
    app()
