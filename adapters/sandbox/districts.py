"""Districts (ubigeo) with INEI and RENIEC codes and monetary poverty.

Read at run time from ``GATEWAY_UBIGEO_FILE`` (the format of the public
``ubigeo_distrito.csv``: ``inei``, ``reniec``, ``departamento``, ``provincia``,
``distrito``, ``pct_pobreza_total``, ...) or, when unset, from a bundled table of
invented districts with the same columns.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

BUNDLED = Path(__file__).resolve().parent / "districts_synthetic.csv"
POVERTY_THRESHOLD = 15.0
REQUIRED_COLUMNS = ("inei", "reniec", "departamento", "provincia", "distrito", "pct_pobreza_total")


class DistrictFileError(ValueError):
    """The district file is unreadable or lacks a required column."""


@dataclass(frozen=True)
class District:
    inei: str
    reniec: str
    department: str
    province: str
    name: str
    poverty_pct: float

    @property
    def eligible(self) -> bool:
        """DU 095-2020 targets districts with 15% or more monetary poverty."""
        return self.poverty_pct >= POVERTY_THRESHOLD

    @property
    def reniec_label(self) -> str:
        """The ``DEPT/PROV/DIST`` text RENIEC returns for an ubigeo."""
        return f"{self.department}/{self.province}/{self.name}"


@lru_cache(maxsize=8)
def load_districts(path: Path | None = None) -> tuple[District, ...]:
    source = path or BUNDLED
    try:
        with source.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DistrictFileError(f"{source}: missing column(s) {', '.join(missing)}")
            districts = []
            for line, row in enumerate(reader, start=2):
                try:
                    poverty = float(row["pct_pobreza_total"])
                except ValueError:
                    raise DistrictFileError(
                        f"{source}:{line}: pct_pobreza_total is not a number"
                    ) from None
                districts.append(
                    District(
                        inei=row["inei"].zfill(6),
                        reniec=row["reniec"].zfill(6),
                        department=row["departamento"],
                        province=row["provincia"],
                        name=row["distrito"],
                        poverty_pct=poverty,
                    )
                )
    except OSError as exc:
        raise DistrictFileError(f"{source}: cannot read ({exc.strerror})") from None
    if not districts:
        raise DistrictFileError(f"{source}: no districts")
    return tuple(districts)
