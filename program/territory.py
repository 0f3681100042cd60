"""JUNTOS' territorial units (*unidades territoriales*) and the districts each one serves.

The operation was organised by unit: the semáforo list, the reminders and the field
follow-up of a district are the work of one unit. The units are data,
``contracts/juntos/unidades-territoriales.csv`` (a stand-in: no official list with seats
is published; see the README beside it): code, name, seat district (INEI ubigeo and
coordinates) and the regions it serves, spelled as the district table's ``region``
column.

A district belongs to the unit serving its region. A district of a region no unit serves
(no programme office there) goes to the unit whose seat is nearest by great-circle
distance (haversine on a sphere of the Earth's mean radius, 6,371.0088 km, IUGG) from
the district's coordinates; a district without coordinates in such a region is placed at
the mean of its region's known coordinates, and is left without a unit only when its
region has none.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from program.identifiers import is_ascii_digits

UNITS_FILE = (
    Path(__file__).resolve().parent.parent / "contracts" / "juntos" / "unidades-territoriales.csv"
)
EARTH_RADIUS_KM = 6371.0088
COLUMNS = ("code", "name", "seat_inei", "seat_district", "latitude", "longitude", "regions")


class UnitsFileError(ValueError):
    """The units file lacks a column, holds a value not of its kind, or has two units
    serving one region; the message names the file and the line."""


@dataclass(frozen=True)
class Unit:
    """One territorial unit; ``latitude``/``longitude`` (decimal degrees) are its seat's."""

    code: str
    name: str
    seat_inei: str
    seat_district: str
    latitude: float
    longitude: float
    regions: frozenset[str]


@dataclass(frozen=True)
class Place:
    """A district as the programme's register knows it: INEI ubigeo, region, coordinates
    (decimal degrees, ``None`` when unknown) and percent monetary poverty."""

    inei: str
    region: str
    latitude: float | None
    longitude: float | None
    poverty_pct: float | None = None


@dataclass(frozen=True)
class Assignment:
    """Why a district belongs to its unit: ``region`` (the unit serves its region) or
    ``nearest`` (no unit does; ``km`` is the distance to the chosen seat)."""

    unit: Unit
    by: Literal["region", "nearest"]
    km: float | None = None


def load_units(path: Path = UNITS_FILE) -> tuple[Unit, ...]:
    """The units of ``path`` (UTF-8 CSV, columns :data:`COLUMNS`; ``regions``
    ``;``-separated). Raises :class:`UnitsFileError` or ``OSError``."""
    units: list[Unit] = []
    served: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UnitsFileError(f"{path}: missing column(s) {', '.join(missing)}")
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            if not is_ascii_digits(row["seat_inei"], 6):
                raise UnitsFileError(f"{where}: seat_inei is not 6 digits")
            try:
                latitude, longitude = float(row["latitude"]), float(row["longitude"])
            except ValueError:
                raise UnitsFileError(f"{where}: latitude or longitude is not a number") from None
            if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
                raise UnitsFileError(f"{where}: latitude or longitude out of range")
            regions = frozenset(r.strip() for r in row["regions"].split(";") if r.strip())
            for region in regions:
                if region in served:
                    raise UnitsFileError(f"{where}: {region} is already served by {served[region]}")
                served[region] = row["code"]
            units.append(
                Unit(
                    row["code"],
                    row["name"],
                    row["seat_inei"],
                    row["seat_district"],
                    latitude,
                    longitude,
                    regions,
                )
            )
    if not units:
        raise UnitsFileError(f"{path}: no units")
    return tuple(units)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in decimal degrees
    (haversine formula, sphere of radius :data:`EARTH_RADIUS_KM`)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def nearest(units: Sequence[Unit], latitude: float, longitude: float) -> tuple[Unit, float]:
    """The unit whose seat is nearest to the point, and the distance in km (ties go to
    the unit listed first)."""
    return min(
        ((u, great_circle_km(latitude, longitude, u.latitude, u.longitude)) for u in units),
        key=lambda pair: pair[1],
    )


class Territory:
    """Every district of the register assigned to a unit (see the module's rules)."""

    def __init__(self, units: Sequence[Unit], places: Iterable[Place]) -> None:
        self.units = tuple(units)
        places = list(places)
        by_region = {region: u for u in self.units for region in u.regions}
        known: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for p in places:
            if p.latitude is not None and p.longitude is not None:
                known[p.region].append((p.latitude, p.longitude))
        self.assignments: dict[str, Assignment] = {}
        self.unplaced: list[str] = []
        for p in places:
            unit = by_region.get(p.region)
            if unit is not None:
                self.assignments[p.inei] = Assignment(unit, "region")
                continue
            if p.latitude is not None and p.longitude is not None:
                point = (p.latitude, p.longitude)
            elif known[p.region]:
                points = known[p.region]
                point = (
                    sum(lat for lat, _ in points) / len(points),
                    sum(lon for _, lon in points) / len(points),
                )
            else:
                self.unplaced.append(p.inei)
                continue
            unit, km = nearest(self.units, *point)
            self.assignments[p.inei] = Assignment(unit, "nearest", km)

    def unit_of(self, inei: str) -> Unit | None:
        """The unit of an INEI district; ``None`` for a district the register does not
        know or could not place."""
        assignment = self.assignments.get(inei)
        return assignment.unit if assignment else None

    def districts_of(self, unit: Unit) -> list[str]:
        """The INEI codes of the districts a unit serves, in register order."""
        return [inei for inei, a in self.assignments.items() if a.unit == unit]
