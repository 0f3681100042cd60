"""What every command module shares: settings and catalog loading that fail with a
message instead of a traceback, one transaction per command, the operator as the audit
log's actor, the schema check, and ``_``: a message in the shell's language.

Messages come from the ``cli`` catalog (``gateway/locale/<es|en>/LC_MESSAGES/cli.po``),
in the language the environment names the gettext way (``LANGUAGE``, ``LC_ALL``,
``LC_MESSAGES``, ``LANG``; ``gateway.core.i18n.locale_from_environment``): Spanish when
none is set or it is ``C``/``POSIX``, English with ``LANG=en_US.UTF-8``. JSON output
(``--json``) and names (commands, options, variables, ids) stay as they are."""

from __future__ import annotations

import asyncio
import getpass
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import migrate
from gateway.catalog.loader import CatalogError, load_catalog
from gateway.catalog.models import Catalog
from gateway.clients.service import Actor
from gateway.core.db import create_engine, session_factory, transaction
from gateway.core.i18n import Text, locale_from_environment, render, translations
from gateway.core.runtime import tune_collector
from gateway.settings import ConfigurationError, Settings

T = TypeVar("T")


def _(message: str) -> str:
    """``message`` (an English id of the ``cli`` catalog) in the shell's language."""
    return translations(locale_from_environment()).gettext(message)


#: The placeholder of an option taking a date, in the shell's language ("AAAA-MM-DD").
DATE = _("YYYY-MM-DD")


def shown(text: str | Text) -> str:
    """A catalog id or ``Text`` from the services (a problem's detail, a refusal) in the
    shell's language."""
    return render(text, locale_from_environment())


def unreachable_database(database_url: str, exc: DBAPIError) -> typer.Exit:
    """The exit for a database that refused or never answered: the address (password
    hidden), the driver's first line of reason, and the variable to change."""
    address = make_url(database_url).render_as_string(hide_password=True)
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    return fail(
        _(
            "cannot reach the database {database} ({reason}); "
            "check GATEWAY_DATABASE_URL and that the server is running"
        ).format(database=address, reason=reason)
    )


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` (``error:`` in the shell's language, ``message`` already
    in it) to stderr and return the exit to raise (status ``code``)."""
    typer.secho(_("error: {message}").format(message=message), fg=typer.colors.RED, err=True)
    return typer.Exit(code)


RUN_ENV_FILE = "var/run.env"
"""Where ``make run`` writes the settings of the gateway it started (``GATEWAY_ENV`` and
every ``GATEWAY_*`` variable it was given), so that commands typed beside it reach the
same database in the same mode. Another path: ``GATEWAY_CLI_ENV_FILE``; empty: none."""


#: Files the sandbox gateway writes in its var directory (``GATEWAY_VAR_DIR``).
SANDBOX_CLIENTS_FILE = "sandbox-clients.json"
DEMO_REPORT_FILE = "demo-report.html"


def _run_env_file() -> str | None:
    env_file = os.environ.get("GATEWAY_CLI_ENV_FILE", RUN_ENV_FILE)
    return env_file if env_file and Path(env_file).is_file() else None


def get_settings() -> Settings:
    """The settings from the environment, then from :data:`RUN_ENV_FILE` when it exists
    (the environment wins), checked safe for its mode; exit 1 naming the fault
    otherwise."""
    try:
        settings = Settings(_env_file=_run_env_file())
        settings.check_safe()
    except ConfigurationError as exc:
        params = dict(exc.params)
        if "source" in params:  # a variable's name, or the marked words for the default
            params["source"] = _(str(params["source"]))
        raise fail(_(exc.message).format(**params)) from None
    except ValueError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # the settings file exists but cannot be read
        raise fail(
            _("{path}: cannot be read ({reason})").format(
                path=exc.filename or RUN_ENV_FILE, reason=exc.strerror or type(exc).__name__
            )
        ) from None
    return settings


def var_dir() -> Path:
    """The var directory of the gateway these commands run beside, read as
    :func:`get_settings` reads it but without its checks (a command that only needs the
    path must not fail on another setting). When the settings do not read (another
    setting invalid, ``var/run.env`` unreadable), ``GATEWAY_VAR_DIR`` from the
    environment, else ``var``."""
    try:
        return Settings(_env_file=_run_env_file()).var_dir
    except (ValueError, OSError):  # another setting invalid, or run.env unreadable
        return Path(os.environ.get("GATEWAY_VAR_DIR") or "var")


def get_catalog(settings: Settings) -> Catalog:
    """The configured policy catalog; exit 1 naming each fault and its line otherwise."""
    try:
        return load_catalog(settings.catalog_path, settings.catalog_schema_path)
    except CatalogError as exc:
        raise fail(str(exc)) from None


def prepare_sqlite_dir(database_url: str) -> None:
    """Create the directory of a SQLite database file (nothing for other databases)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction on a fresh engine (committed if it returns)."""

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
    typer.Option(help=_("Who makes the change, for the audit log (default: the login name).")),
]


def cli_actor(operator: str | None) -> Actor:
    """The audit log's record of a command-line change: no client, the operator."""
    if not operator:
        try:
            operator = getpass.getuser()
        except (KeyError, OSError):  # no login name in a bare container
            operator = "unknown"
    return Actor(request_id=f"cli:{uuid.uuid4()}", user_id=operator[:64])


def require_schema(settings: Settings) -> None:
    """Exit 1 unless the database schema is at the code's head revision; exit 1 with one
    line naming ``GATEWAY_DATABASE_URL`` (password hidden) when the database cannot be
    reached."""
    head = migrate.head_revision(settings.database_url)
    try:
        current = migrate.current_revision(settings.database_url)
    except DBAPIError as exc:
        raise unreachable_database(settings.database_url, exc) from None
    if current != head:
        raise fail(
            _(
                "database schema is at {current}, expected {head}: run `juntos-gateway db upgrade`"
            ).format(current=current or _("nothing"), head=head)
        )


def with_state(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work`` on a whole gateway state (services, partners, keyring loaded), as a
    gateway process would, and close it after."""
    from gateway.state import AppState

    async def run() -> T:
        state = AppState.build(settings, get_catalog(settings))
        try:
            async with transaction(state.sessions) as session:
                await state.keyring.load(session)
            return await work(state)
        finally:
            await state.aclose()

    return asyncio.run(run())


def process_runner() -> asyncio.Runner:
    """The runner of a long-running process the CLI starts (gateway, mocks, the demo's
    programme): on :func:`event_loop_factory`'s loop, with the garbage collector tuned
    for a process that allocates per row (``gateway.core.runtime``)."""
    tune_collector()
    return asyncio.Runner(loop_factory=event_loop_factory())


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (not on Windows), as uvicorn itself picks for
    the workers of ``--workers N``; None (asyncio's own) elsewhere. Every long-running
    process the CLI starts (gateway, mocks, the demo's programme) runs on it."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
