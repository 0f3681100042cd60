"""What the programme knows without asking the gateway: the district table (poverty and
region by INEI ubigeo) and its copy of the national household register (RNH), which says
whether a caregiver has a formal payroll job.

Both arrive as files, as they would reach the programme: the RNH is not one of the four
partner agencies. In the sandbox they are written from the synthetic population by
``adapters.sandbox.registers`` (``juntos-gateway population registers DIR``). Formats
(UTF-8 CSV with a header line):

- ``rnh.csv``: ``dni,formal_payroll``, one line per caregiver; ``formal_payroll`` is
  ``true`` or ``false``. A DNI absent from the file has no payroll job on record.
- ``districts.csv``: ``inei,department,poverty_pct`` and optionally
  ``region,latitude,longitude``; ``poverty_pct`` is the percent monetary poverty of the
  district, ``region`` the district table's region (Lima Metropolitana is
  ``LIMA PROVINCIA``; the department when absent), ``latitude``/``longitude`` decimal
  degrees; a value is empty when unknown.
"""

from __future__ import annotations

import csv
from pathlib import Path

from program.identifiers import is_ascii_digits
from program.territory import Place

RNH_FILE = "rnh.csv"
DISTRICTS_FILE = "districts.csv"


class RegisterFileError(ValueError):
    """A register file lacks a column or holds a value not of its kind; the message names
    the file and the line (never the value, which may be a DNI)."""


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise RegisterFileError(f"{path}: missing column(s) {', '.join(missing)}")
        return [(reader.line_num, row) for row in reader]


class FileRegisters:
    """The programme's registers, read once from ``rnh.csv`` and ``districts.csv``.

    Raises :class:`RegisterFileError` (or ``OSError`` for an unreadable file)."""

    def __init__(self, rnh: Path, districts: Path) -> None:
        self._poverty: dict[str, float | None] = {}
        self._region: dict[str, str] = {}
        self._places: list[Place] = []
        for line, row in _rows(districts, ("inei", "department", "poverty_pct")):
            inei, poverty = row["inei"], row["poverty_pct"].strip()
            if not is_ascii_digits(inei, 6):
                raise RegisterFileError(f"{districts}, line {line}: inei is not 6 digits")
            try:
                self._poverty[inei] = float(poverty) if poverty else None
            except ValueError:
                raise RegisterFileError(
                    f"{districts}, line {line}: poverty_pct is not a number"
                ) from None
            self._region[inei] = row["department"]
            coordinates = []
            for column in ("latitude", "longitude"):
                value = (row.get(column) or "").strip()
                try:
                    coordinates.append(float(value) if value else None)
                except ValueError:
                    raise RegisterFileError(
                        f"{districts}, line {line}: {column} is not a number"
                    ) from None
            self._places.append(
                Place(
                    inei,
                    (row.get("region") or "").strip() or row["department"],
                    coordinates[0],
                    coordinates[1],
                    self._poverty[inei],
                )
            )
        self._payroll: set[str] = set()
        for line, row in _rows(rnh, ("dni", "formal_payroll")):
            if not is_ascii_digits(row["dni"], 8):
                raise RegisterFileError(f"{rnh}, line {line}: dni is not 8 digits")
            flag = row["formal_payroll"]
            if flag not in ("true", "false"):
                raise RegisterFileError(f"{rnh}, line {line}: formal_payroll is not true/false")
            if flag == "true":
                self._payroll.add(row["dni"])

    @classmethod
    def read(cls, directory: Path) -> FileRegisters:
        """The registers in ``directory`` (``rnh.csv`` and ``districts.csv``)."""
        return cls(directory / RNH_FILE, directory / DISTRICTS_FILE)

    def poverty_pct(self, ubigeo: str) -> float | None:
        """Percent monetary poverty of an INEI district; None when unknown."""
        return self._poverty.get(ubigeo)

    def region(self, ubigeo: str) -> str:
        """The department of an INEI district; ``UNKNOWN`` when not in the table."""
        return self._region.get(ubigeo, "UNKNOWN")

    def places(self) -> list[Place]:
        """Every district of ``districts.csv``, with its region and coordinates (for
        :func:`program.territory.assign`)."""
        return list(self._places)

    def formal_payroll(self, dni: str) -> bool:
        """Whether the RNH says this caregiver has a formal payroll job."""
        return dni in self._payroll
