"""``catalog`` and ``contract``: checking a policy catalog and exporting the OpenAPI
document the gateway serves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from gateway.catalog.loader import CatalogError, load_catalog
from gateway.cli.common import _, fail
from gateway.settings import Settings

catalog_app = typer.Typer(help=_("The policy catalog."), no_args_is_help=True)
contract_app = typer.Typer(
    help=_("The gateway's committed OpenAPI contract."), no_args_is_help=True
)


@catalog_app.command(
    "check", help=_("Validate a policy catalog and report every fault with its line.")
)
def catalog_check(
    path: Annotated[
        Path | None,
        typer.Argument(help=_("Catalog file [GATEWAY_CATALOG_FILE, else the bundled one].")),
    ] = None,
) -> None:
    """Validate a policy catalog and report every fault with its line."""
    settings = Settings()
    target = path or settings.catalog_path
    try:
        catalog = load_catalog(target, settings.catalog_schema_path)
    except CatalogError as exc:
        raise fail(str(exc)) from None
    typer.echo(
        _("{path}: ok ({services} services, {purposes} purposes)").format(
            path=target, services=len(catalog.services), purposes=len(catalog.purposes)
        )
    )


def _openapi_document() -> dict[str, Any]:
    from gateway.app import create_app

    settings = Settings(env="sandbox", database_url="sqlite:///:memory:")
    return create_app(settings).openapi()


@contract_app.command("export", help=_("Write the OpenAPI document the gateway serves."))
def contract_export(
    path: Annotated[Path, typer.Argument(help=_("Where to write the OpenAPI YAML."))] = Path(
        "contracts/gateway/openapi.yaml"
    ),
) -> None:
    """Write the OpenAPI document the gateway serves."""
    text = yaml.safe_dump(_openapi_document(), sort_keys=False, allow_unicode=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    typer.echo(_("wrote {path}").format(path=path))
