"""The ``juntos-gateway`` command: every command module's group under one Typer app,
in the order ``--help`` lists them."""

from __future__ import annotations

import typer

from gateway.cli.audit import audit_app
from gateway.cli.catalog import catalog_app, contract_app
from gateway.cli.clients import clients_app
from gateway.cli.common import _
from gateway.cli.db import db_app
from gateway.cli.demo import demo
from gateway.cli.exchanges import exchanges_app
from gateway.cli.keys import keys_app
from gateway.cli.partners import partners_app
from gateway.cli.population import mocks, population_app
from gateway.cli.purge import purge_command
from gateway.cli.serve import serve
from gateway.cli.users import users_app

app = typer.Typer(
    help=_(
        "Serve the gateway and administer it from a shell. The command line works on the "
        "same services as the HTTP API, inside one transaction per command."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(clients_app, name="clients")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(catalog_app, name="catalog")
app.add_typer(contract_app, name="contract")
app.add_typer(audit_app, name="audit")
app.add_typer(exchanges_app, name="exchanges")
app.add_typer(partners_app, name="partners")
app.add_typer(population_app, name="population")
app.command(
    "mocks",
    help=_("Serve the mock agencies and the SMS centre on their loopback ports until interrupted."),
)(mocks)
app.command(
    "serve", help=_("Start the gateway (in sandbox mode, seed one client per role on first start).")
)(serve)
app.command(
    "demo",
    help=_(
        "Play the DU 095-2020 operation end to end through the gateway's public API and write its "
        "report."
    ),
)(demo)
app.command(
    "purge",
    help=_("Delete personal data past the catalog's retention and report counts per category."),
)(purge_command)
