"""The district table: ubigeo codes in both codings (INEI, RENIEC) and monetary poverty.

Why it exists: INEI and RENIEC number many districts differently (Callao is 070101 at
INEI and 240101 at RENIEC, which is Tumbes at INEI), so a code means nothing until its
coding is known. Health data, the Padrón Nominal and the poverty map use INEI codes;
RENIEC's own registers use RENIEC codes. The gateway stores and delivers INEI codes and
converts a RENIEC code with this table, refusing a code the table does not know in the
declared coding.

Read at run time from ``GATEWAY_UBIGEO_FILE`` in the format of the public
``ubigeo_distrito.csv`` (jmcastagnetto/ubigeo-peru-aumentado: ``inei``, ``reniec``,
``departamento``, ``provincia``, ``distrito``, ``pct_pobreza_total``, and when present
``region``, ``latitude``, ``longitude``, ...) or, when unset,
from the sandbox's bundled table of invented districts with the same columns. In that
file ``NA`` marks a value that does not exist: a district created after the poverty map
has no poverty figure (unknown: not eligible, counted as such), and a few districts have
a code in only one of the two codings.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gateway.core.i18n import N_, Text
from gateway.identifiers import IdentifierError, UbigeoCoding, is_ascii_digits, parse_ubigeo

BUNDLED = (
    Path(__file__).resolve().parent.parent / "adapters" / "sandbox" / "districts_synthetic.csv"
)
POVERTY_THRESHOLD = 15.0
REQUIRED_COLUMNS = ("inei", "reniec", "departamento", "provincia", "distrito", "pct_pobreza_total")
MISSING = "NA"


class DistrictFileError(ValueError):
    """The district file is unreadable, lacks a required column or holds a value that is
    not of its kind; the message names the file and the physical line."""


@dataclass(frozen=True)
class District:
    """One district. ``inei`` or ``reniec`` is ``None`` when the district has no code in
    that coding; ``poverty_pct`` (percent of the population in monetary poverty, INEI
    2018 map) is ``None`` when unknown. ``region`` is the table's ``region`` column (it
    tells Lima Metropolitana, ``LIMA PROVINCIA``, from the rest of the department,
    ``LIMA REGION``), the department when the file has no such column; ``latitude`` and
    ``longitude`` (decimal degrees, WGS 84) are ``None`` when unknown."""

    inei: str | None
    reniec: str | None
    department: str
    province: str
    name: str
    poverty_pct: float | None
    region: str = ""
    latitude: float | None = None
    longitude: float | None = None
    inhabitants: float | None = None
    """Inhabitants in 2020 (``superficie`` km² × ``pob_densidad_2020`` per km²); None
    when the table lacks either column or value."""

    @property
    def eligible(self) -> bool:
        """DU 095-2020 targets districts with 15% or more monetary poverty; a district
        whose poverty is unknown is not eligible."""
        return self.poverty_pct is not None and self.poverty_pct >= POVERTY_THRESHOLD

    @property
    def inei_code(self) -> str:
        """The INEI code of a district known to have one (raises ValueError if not)."""
        if self.inei is None:
            raise ValueError("district without an INEI code")
        return self.inei

    @property
    def reniec_label(self) -> str:
        """The ``DEPT/PROV/DIST`` text RENIEC returns for an ubigeo."""
        return f"{self.department}/{self.province}/{self.name}"


class UnknownUbigeo(IdentifierError):
    """A well-formed code the district table does not know in the declared coding."""

    def __init__(self, coding: str) -> None:
        super().__init__(f"not a district code in the {coding.upper()} coding")
        self.coding = coding.upper()

    @property
    def text(self) -> Text:
        return Text(N_("not a district code in the {coding} coding"), coding=self.coding)


def place_key(place_name: str) -> str:
    """A ``DEPT/PROV/DIST`` place name compared without case, accents or spacing around
    the slashes (``Lima / Lima / Jesús María`` and ``LIMA/LIMA/JESUS MARIA`` are one)."""
    plain = "".join(
        c for c in unicodedata.normalize("NFKD", place_name) if not unicodedata.combining(c)
    )
    return "/".join(" ".join(part.split()) for part in plain.upper().split("/"))


class DistrictTable:
    """Districts by code in each coding, by place name, and conversion to INEI codes."""

    def __init__(self, districts: Iterable[District]) -> None:
        self.districts = tuple(districts)
        self._by: dict[UbigeoCoding, dict[str, District]] = {
            "inei": {d.inei: d for d in self.districts if d.inei is not None},
            "reniec": {d.reniec: d for d in self.districts if d.reniec is not None},
        }
        by_place: dict[str, District | None] = {}
        for d in self.districts:
            key = place_key(d.reniec_label)
            by_place[key] = None if key in by_place else d  # a name two districts share
        self._by_place = by_place

    def inei_of_place(self, place_name: str | None) -> str | None:
        """The INEI code of the district a ``DEPT/PROV/DIST`` place name (RENIEC's
        answer) names; None when no district of the table, or more than one, has that
        name, or the district has no INEI code."""
        if not place_name:
            return None
        district = self._by_place.get(place_key(place_name))
        return district.inei if district is not None else None

    def find(self, code: str, coding: UbigeoCoding) -> District | None:
        return self._by[coding].get(code)

    def to_inei(self, value: object, coding: UbigeoCoding) -> str:
        """The INEI code of the district that ``value`` names in ``coding``.

        Raises :class:`IdentifierError` when ``value`` is not 6 ASCII digits and
        :class:`UnknownUbigeo` when no district has that code in that coding (or the
        district has no INEI code)."""
        code = parse_ubigeo(value)
        district = self._by[coding].get(code)
        if district is None or district.inei is None:
            raise UnknownUbigeo(coding)
        return district.inei


def _code(value: str, column: str, where: str) -> str | None:
    if value == MISSING:
        return None
    code = value.zfill(6)
    if not is_ascii_digits(code, 6):
        raise DistrictFileError(f"{where}: {column} is not a 6-digit ubigeo nor {MISSING}")
    return code


def _inhabitants(row: dict[str, str]) -> float | None:
    """Area times density, when the table has both (optional columns: no error)."""
    try:
        area, density = float(row["superficie"]), float(row["pob_densidad_2020"])
    except (KeyError, ValueError):
        return None
    return area * density if area > 0 and density > 0 else None


def _poverty(value: str, where: str) -> float | None:
    if value == MISSING:
        return None
    try:
        poverty = float(value)
    except ValueError:
        raise DistrictFileError(f"{where}: pct_pobreza_total is not a number nor NA") from None
    if not 0.0 <= poverty <= 100.0:
        raise DistrictFileError(f"{where}: pct_pobreza_total is not a percentage")
    return poverty


def _degrees(row: dict[str, str], column: str, limit: float, where: str) -> float | None:
    value = row.get(column, MISSING)
    if value in (MISSING, ""):
        return None
    try:
        degrees = float(value)
    except ValueError:
        raise DistrictFileError(f"{where}: {column} is not a number nor NA") from None
    if not -limit <= degrees <= limit:
        raise DistrictFileError(f"{where}: {column} is not within ±{limit:g} degrees")
    return degrees


@lru_cache(maxsize=8)
def load_districts(path: Path | None = None) -> tuple[District, ...]:
    """Every district of the file (the bundled synthetic table when ``path`` is None).

    Raises :class:`DistrictFileError` naming ``file:line``, the physical line where the
    faulty record starts (a quoted field may span lines)."""
    source = path or BUNDLED
    try:
        with source.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise DistrictFileError(f"{source}:1: missing column(s) {', '.join(missing)}")
            districts: list[District] = []
            seen: dict[str, dict[str, int]] = {"inei": {}, "reniec": {}}
            for fields in reader:
                if not fields:
                    continue  # a blank line
                # The record ends on line_num; a quoted field may hold line breaks.
                start = reader.line_num - sum(f.count("\n") for f in fields)
                where = f"{source}:{start}"
                if len(fields) != len(header):
                    raise DistrictFileError(
                        f"{where}: {len(fields)} fields where the header has {len(header)}"
                    )
                row = dict(zip(header, fields, strict=True))
                inei = _code(row["inei"], "inei", where)
                reniec = _code(row["reniec"], "reniec", where)
                if inei is None and reniec is None:
                    raise DistrictFileError(f"{where}: neither an INEI nor a RENIEC code")
                for coding, code in (("inei", inei), ("reniec", reniec)):
                    if code is not None:
                        if code in seen[coding]:
                            raise DistrictFileError(
                                f"{where}: {coding} code repeats line {seen[coding][code]}"
                            )
                        seen[coding][code] = start
                districts.append(
                    District(
                        inei=inei,
                        reniec=reniec,
                        department=row["departamento"],
                        province=row["provincia"],
                        name=row["distrito"],
                        region=row.get("region") or row["departamento"],
                        latitude=_degrees(row, "latitude", 90.0, where),
                        longitude=_degrees(row, "longitude", 180.0, where),
                        poverty_pct=_poverty(row["pct_pobreza_total"], where),
                        inhabitants=_inhabitants(row),
                    )
                )
    except OSError as exc:
        raise DistrictFileError(f"{source}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DistrictFileError(f"{source}: not a UTF-8 CSV file ({exc})") from None
    if not districts:
        raise DistrictFileError(f"{source}: no districts")
    return tuple(districts)


@lru_cache(maxsize=8)
def load_table(path: Path | None = None) -> DistrictTable:
    """The :class:`DistrictTable` of :func:`load_districts`."""
    return DistrictTable(load_districts(path))
