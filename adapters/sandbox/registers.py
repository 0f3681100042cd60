"""The programme's own registers, written as files from the sandbox population.

The programme knows two things without asking the gateway: the district table (poverty
and region by INEI ubigeo) and its copy of the national household register (RNH), which
says whether a caregiver has a formal payroll job. A real programme receives both as
files; the sandbox writes them from the same deterministic population the mocks serve,
and ``program.registers`` reads them. Nothing else crosses from the sandbox to the
programme.

Files written into one directory (UTF-8 CSV with a header line, comma-separated):

- ``rnh.csv``: ``dni,formal_payroll``: one line per household's mother (the caregiver),
  ``dni`` her 8-digit DNI, ``formal_payroll`` ``true`` or ``false``.
- ``districts.csv``: ``inei,department,poverty_pct,region,latitude,longitude``: one line
  per district with an INEI code, ``poverty_pct`` the percent monetary poverty,
  ``region`` the district table's region (Lima Metropolitana is ``LIMA PROVINCIA``),
  ``latitude``/``longitude`` in decimal degrees; a value is empty when unknown.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from adapters.sandbox.population import Population

RNH_FILE = "rnh.csv"
DISTRICTS_FILE = "districts.csv"


@dataclass(frozen=True)
class RegisterFiles:
    """Where :func:`write_registers` put the two files."""

    directory: Path

    @property
    def rnh(self) -> Path:
        return self.directory / RNH_FILE

    @property
    def districts(self) -> Path:
        return self.directory / DISTRICTS_FILE


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)


def write_registers(population: Population, directory: Path) -> RegisterFiles:
    """Write ``rnh.csv`` and ``districts.csv`` for ``population`` into ``directory``
    (created if missing; existing files replaced). Takes time linear in the population's
    size (every household is generated once)."""
    files = RegisterFiles(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with files.districts.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["inei", "department", "poverty_pct", "region", "latitude", "longitude"])
        for d in population.districts:
            if d.inei is not None:
                writer.writerow(
                    [
                        d.inei,
                        d.department,
                        _number(d.poverty_pct),
                        d.region or d.department,
                        _number(d.latitude),
                        _number(d.longitude),
                    ]
                )
    with files.rnh.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["dni", "formal_payroll"])
        for index in range(population.size):
            household = population.household(index)
            writer.writerow([household.mother.dni, "true" if household.formal_payroll else "false"])
    return files
