"""Sandbox commands: ``mocks`` (serve the four agencies and the SMS centre),
``population sample`` and ``population registers`` (the programme's register files).

What they print and their help are in the shell's language (``gateway.cli.common._``);
the sandbox itself is ``adapters.sandbox``."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.sandbox.districts import DistrictFileError
from adapters.sandbox.population import Household
from adapters.sandbox.registers import DISTRICTS_FILE, RNH_FILE, write_registers
from adapters.sandbox.server import endpoints, mock_servers, serve_all, smsc_admin_url
from adapters.sandbox.settings import PARTNERS, SandboxSettings
from gateway.cli.common import _, fail, process_runner

population_app = typer.Typer(
    help=_("The synthetic population behind the mocks."), no_args_is_help=True
)


def _settings(**overrides: Any) -> SandboxSettings:
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = SandboxSettings(**values)
        _population = settings.population  # built now: a bad district file fails here
    except (DistrictFileError, ValueError) as exc:
        raise fail(str(exc)) from None
    return settings


def mocks(
    only: Annotated[
        list[str] | None,
        typer.Option(help=_("Serve only these: {partners}.").format(partners=", ".join(PARTNERS))),
    ] = None,
) -> None:
    """Serve the mock agencies and the SMS centre on their loopback ports until interrupted."""
    chosen = only or list(PARTNERS)
    unknown = sorted(set(chosen) - set(PARTNERS))
    if unknown:
        unknown_list = ", ".join(unknown)
        raise fail(_("--only: unknown partner(s) {partners}").format(partners=unknown_list), 2)
    settings = _settings()
    population = settings.population
    typer.echo(
        _("Partner sandbox: {size:,} households, seed {seed}, {districts:,} districts").format(
            size=population.size, seed=population.seed, districts=len(population.districts)
        )
    )
    for endpoint in endpoints(settings, chosen):
        typer.echo(f"  {endpoint.partner:<10} {endpoint.entry_url}")
    if "smsc" in chosen:
        typer.echo(f"  {'':<10} admin: {smsc_admin_url(settings)}/_admin/faults")
    with process_runner() as runner:
        runner.run(serve_all(mock_servers(settings, chosen)))


def household_summary(h: Household) -> dict[str, Any]:
    return {
        "household": h.index,
        "mother_dni": h.mother.dni,
        "mother_check_digit": h.mother.check_digit,
        "mother_birth_date": h.mother.birth_date.isoformat(),
        "father_dni": h.father.dni if h.father else None,
        "child_cui": h.child.cui,
        "child_check_digit": h.child.check_digit,
        "child_birth_date": h.child.birth_date.isoformat(),
        "district": {
            "inei": h.district.inei,
            "reniec": h.district.reniec,
            "name": h.district.reniec_label,
            "poverty_pct": h.district.poverty_pct,
            "eligible": h.district.eligible,
        },
        "phone_lines": len(h.phone_lines),
        "mother_deceased": h.mother.deceased,
        "child_deceased": h.child.deceased,
        "in_juntos": h.in_juntos,
        "formal_payroll": h.formal_payroll,
    }


@population_app.command(
    "sample", help=_("Print sample households with real-looking identifiers to try the API with.")
)
def sample(
    count: Annotated[int, typer.Option(min=1, max=10_000, help=_("Households to print."))] = 5,
    seed: Annotated[
        int | None, typer.Option(help=_("Population seed [GATEWAY_SANDBOX_SEED]."))
    ] = None,
    size: Annotated[int | None, typer.Option(help=_("Households [GATEWAY_SANDBOX_SIZE]."))] = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
) -> None:
    """Print sample households with real-looking identifiers to try the API with."""
    population = _settings(seed=seed, size=size).population
    picks = sorted(
        random.Random(population.seed).sample(range(population.size), min(count, population.size))
    )
    rows = [household_summary(population.household(i)) for i in picks]
    if as_json:
        typer.echo(
            json.dumps({"seed": population.seed, "size": population.size, "households": rows})
        )
        return
    line = _("household {n:>7}  mother DNI {dni}  child CUI {cui}  {district}")
    for r in rows:
        typer.echo(
            line.format(
                n=r["household"],
                dni=f"{r['mother_dni']}-{r['mother_check_digit']}",
                cui=f"{r['child_cui']}-{r['child_check_digit']}",
                district=r["district"]["name"],
            )
        )


@population_app.command(
    "registers",
    help=_(
        "Write the programme's registers for this population: the household register (rnh.csv) and"
        " the district table (districts.csv)."
    ),
)
def registers(
    directory: Annotated[Path, typer.Argument(help=_("Where to write the files."))] = Path(
        "var/registers"
    ),
    seed: Annotated[
        int | None, typer.Option(help=_("Population seed [GATEWAY_SANDBOX_SEED]."))
    ] = None,
    size: Annotated[int | None, typer.Option(help=_("Households [GATEWAY_SANDBOX_SIZE]."))] = None,
) -> None:
    """Write the programme's registers for this population: the household register
    (rnh.csv: dni,formal_payroll) and the district table (districts.csv)."""
    population = _settings(seed=seed, size=size).population
    files = write_registers(population, directory)
    typer.echo(
        _("wrote {rnh} and {districts}").format(
            rnh=files.directory / RNH_FILE, districts=files.directory / DISTRICTS_FILE
        )
    )
