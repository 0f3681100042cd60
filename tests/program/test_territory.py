"""Territorial units: every district the operation covers belongs to exactly one unit, its
region's where the programme has an office, else the nearest seat."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from adapters.sandbox.districts import load_districts
from adapters.sandbox.population import Population
from adapters.sandbox.registers import write_registers
from program.registers import FileRegisters
from program.territory import (
    Place,
    Territory,
    UnitsFileError,
    great_circle_km,
    load_units,
)

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ubigeo_distrito.csv"
needs_real_table = pytest.mark.skipif(not REAL.exists(), reason=f"{REAL} is not there")


def registers_of(table: Path | None, tmp_path: Path) -> FileRegisters:
    """The programme's registers as the sandbox writes them from ``table``."""
    population = Population(load_districts(table), seed=1, size=1)
    return FileRegisters.read(write_registers(population, tmp_path).directory)


def test_the_unit_table_has_21_regional_units_plus_lima_metropolitana_and_callao() -> None:
    units = load_units()
    assert len(units) == 23
    names = {u.name for u in units}
    assert {"Lima Metropolitana", "Callao", "Unidad Territorial Áncash"} <= names
    served = Counter(region for u in units for region in u.regions)
    assert max(served.values()) == 1
    assert {"ICA", "MOQUEGUA", "TACNA"}.isdisjoint(served)  # no programme office there


@needs_real_table
def test_every_district_at_15_percent_poverty_gets_exactly_one_unit(tmp_path: Path) -> None:
    registers = registers_of(REAL, tmp_path)
    places = registers.places()
    territory = Territory(load_units(), places)
    target = [p for p in places if p.poverty_pct is not None and p.poverty_pct >= 15.0]
    assert len(target) == 1_591
    assert all(territory.unit_of(p.inei) is not None for p in target)
    # One unit per district: the units' district lists partition the target.
    listed = Counter(i for u in territory.units for i in territory.districts_of(u))
    assert all(listed[p.inei] == 1 for p in target)
    assert territory.unplaced == []
    # Every unit serves some district of the operation.
    units_used = {territory.unit_of(p.inei) for p in target}
    assert len(units_used) == 23


@needs_real_table
def test_a_district_without_an_office_goes_to_the_nearest_seat(tmp_path: Path) -> None:
    territory = Territory(load_units(), registers_of(REAL, tmp_path).places())
    # Moquegua (180101) has no unit: Arequipa's seat is about 110 km away, Puno's 200.
    moquegua = territory.assignments["180101"]
    assert moquegua.by == "nearest"
    assert moquegua.unit.name == "Unidad Territorial Arequipa"
    assert moquegua.km is not None
    assert 100 < moquegua.km < 130
    # Ica (110101) lies nearer Huancavelica's seat than Lima's.
    ica = territory.unit_of("110101")
    assert ica is not None
    assert ica.name == "Unidad Territorial Huancavelica"
    # A district of a served region stays in its region's unit: Lima Metropolitana,
    # Callao, and the rest of Lima's department (Yauyos, 151001) to Lima Provincias.
    assert territory.assignments["150101"].unit.name == "Lima Metropolitana"
    assert territory.assignments["070101"].unit.name == "Callao"
    assert territory.assignments["151001"].unit.code == "UT-LIM"
    assert territory.assignments["151001"].by == "region"


def test_great_circle_distance_lima_to_cusco() -> None:
    # Lima (-12.0464, -77.0428) to Cusco (-13.5320, -71.9675): about 580 km.
    assert 570 < great_circle_km(-12.0464, -77.0428, -13.5320, -71.9675) < 590
    assert great_circle_km(-12.0, -77.0, -12.0, -77.0) == 0.0


def test_a_district_without_coordinates_takes_its_regions_mean() -> None:
    units = load_units()
    places = [
        Place("180101", "MOQUEGUA", -17.19, -70.93),
        Place("180102", "MOQUEGUA", None, None),
        Place("999999", "NOWHERE", None, None),
    ]
    territory = Territory(units, places)
    assert territory.unit_of("180102") == territory.unit_of("180101")
    assert territory.unplaced == ["999999"]
    assert territory.unit_of("999999") is None


def test_the_synthetic_table_is_placed_by_coordinates(tmp_path: Path) -> None:
    places = registers_of(None, tmp_path).places()
    territory = Territory(load_units(), places)
    assert places
    assert territory.unplaced == []
    assert {a.by for a in territory.assignments.values()} == {"nearest"}


def test_a_region_served_twice_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "units.csv"
    bad.write_text(
        "code,name,seat_inei,seat_district,latitude,longitude,regions\n"
        "A,Uno,010101,X,-6,-77,AMAZONAS\n"
        "B,Dos,020101,Y,-9,-77,ANCASH;AMAZONAS\n",
        encoding="utf-8",
    )
    with pytest.raises(UnitsFileError, match="line 3: AMAZONAS is already served by A"):
        load_units(bad)
