"""The programme's registers arrive as files the sandbox writes: read back, they say what
the sandbox population says (payroll of caregivers only, poverty and region by INEI
district), and a malformed file is refused naming the line but never the DNI."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sandbox.districts import load_districts
from adapters.sandbox.population import Population
from adapters.sandbox.registers import write_registers
from program.registers import FileRegisters, RegisterFileError


def test_the_files_say_what_the_population_says(tmp_path: Path) -> None:
    population = Population(load_districts(), seed=5, size=400)
    files = write_registers(population, tmp_path / "registers")
    assert files.rnh.read_text().splitlines()[0] == "dni,formal_payroll"
    assert files.districts.read_text().splitlines()[0] == (
        "inei,department,poverty_pct,region,latitude,longitude"
    )
    registers = FileRegisters.read(files.directory)
    households = [population.household(i) for i in range(population.size)]
    assert any(h.formal_payroll for h in households)
    for h in households:
        assert registers.formal_payroll(h.mother.dni) is h.formal_payroll
        assert registers.formal_payroll(h.child.cui) is False  # not a caregiver
        if h.father is not None:
            assert registers.formal_payroll(h.father.dni) is False
        assert registers.poverty_pct(h.district.inei or "") == h.district.poverty_pct
        assert registers.region(h.district.inei or "") == h.district.department
    places = {p.inei: p for p in registers.places()}
    for d in population.districts:
        place = places[d.inei or ""]
        assert (place.region, place.latitude, place.longitude) == (
            d.region,
            d.latitude,
            d.longitude,
        )
        assert place.latitude is not None
    assert registers.formal_payroll("00000000") is False
    assert registers.poverty_pct("999999") is None
    assert registers.region("999999") == "UNKNOWN"


@pytest.mark.parametrize(
    ("rnh", "districts", "message"),
    [
        ("dni,formal_payroll\n4512345,true\n", None, "rnh.csv, line 2: dni is not 8 digits"),
        ("dni,formal_payroll\n45123456,yes\n", None, "line 2: formal_payroll is not true/false"),
        ("dni\n45123456\n", None, "missing column(s) formal_payroll"),
        (None, "inei,department,poverty_pct\n070101,CALLAO,many\n", "poverty_pct is not a"),
        (None, "inei,department,poverty_pct\n7010,CALLAO,9.5\n", "inei is not 6 digits"),
        (
            None,
            "inei,department,poverty_pct,latitude\n070101,CALLAO,9.5,north\n",
            "line 2: latitude is not a number",
        ),
    ],
)
def test_a_malformed_file_is_refused_by_line(
    tmp_path: Path, rnh: str | None, districts: str | None, message: str
) -> None:
    (tmp_path / "rnh.csv").write_text(rnh or "dni,formal_payroll\n45123456,true\n")
    (tmp_path / "districts.csv").write_text(
        districts or "inei,department,poverty_pct\n070101,CALLAO,9.5\n"
    )
    with pytest.raises(RegisterFileError) as refused:
        FileRegisters.read(tmp_path)
    assert message in str(refused.value)
    assert "4512345" not in str(refused.value)  # no identifier in the message
