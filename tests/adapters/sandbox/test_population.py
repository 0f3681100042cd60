"""The synthetic population: deterministic, valid, consistent, O(1) to look up."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from stdnum.pe import cui as stdnum_cui
from typer.testing import CliRunner

from adapters.sandbox.districts import REQUIRED_COLUMNS, load_districts
from adapters.sandbox.population import (
    BIRTHS_FROM,
    BIRTHS_TO,
    ROLE_CHILD,
    ROLE_FATHER,
    ROLE_MOTHER,
    Population,
)
from gateway.cli import app as cli
from tests.fixtures.serving import ENGLISH

DISTRICTS = load_districts()


def test_same_seed_same_people_other_seed_other_people() -> None:
    a, b = Population(DISTRICTS, seed=1), Population(DISTRICTS, seed=1)
    c = Population(DISTRICTS, seed=2)
    for i in (0, 17, 9_999):
        assert a.household(i) == b.household(i)
        assert a.health_records(a.household(i)) == b.health_records(b.household(i))
        assert a.household(i).mother.dni != c.household(i).mother.dni


def test_identifiers_are_valid_unique_and_invert_in_o1() -> None:
    pop = Population(DISTRICTS, size=20_000)
    seen: set[str] = set()
    for i in range(0, 20_000, 7):
        h = pop.household(i)
        people = [
            (h.mother.dni, h.mother.check_digit, ROLE_MOTHER),
            (h.child.cui, h.child.check_digit, ROLE_CHILD),
        ]
        if h.father:
            people.append((h.father.dni, h.father.check_digit, ROLE_FATHER))
        for number, check, role in people:
            assert stdnum_cui.is_valid(number + check)
            assert number not in seen
            seen.add(number)
            found = pop.lookup(number)
            assert found is not None
            assert (found.household.index, found.role) == (i, role)
    # Numbers outside the population (another size, the unused fourth role) are unknown.
    bigger = Population(DISTRICTS, size=40_000)
    assert pop.lookup(bigger.household(30_000).mother.dni) is None
    assert pop.lookup(pop.identifier(5, 3)) is None
    assert pop.lookup("1234567") is None
    assert pop.lookup("abcdefgh") is None


def test_households_are_complete_and_plausible() -> None:
    pop = Population(DISTRICTS, size=5_000)
    lines, fathers, deceased, in_juntos = Counter(), 0, 0, 0
    for i in range(5_000):
        h = pop.household(i)
        assert BIRTHS_FROM <= h.child.birth_date <= BIRTHS_TO
        assert (h.child.birth_date - h.mother.birth_date).days >= 16 * 365
        assert len(h.child.cnv) == 10
        assert len(h.child.health_facility) == 8
        assert 1_500 <= h.child.birth_weight_g <= 4_200
        assert h.district.inei
        assert h.district.reniec
        lines[len(h.phone_lines)] += 1
        for line in h.phone_lines:
            assert len(line.number) == 9
            assert line.number.startswith("9")
            assert line.modality in {"PREPAGO", "POSPAGO", "CONTROL"}
        fathers += h.father is not None
        deceased += h.mother.deceased or h.child.deceased
        in_juntos += h.in_juntos
    assert set(lines) == {0, 1, 2, 3}
    assert 0.5 < fathers / 5_000 < 0.75
    assert 0 < deceased < 100
    assert 0.05 < in_juntos / 5_000 < 0.2


def test_health_history_follows_age_and_compliance() -> None:
    compliant = Population(DISTRICTS, size=3_000, compliance_rate=1.0)
    negligent = Population(DISTRICTS, size=3_000, compliance_rate=0.0)

    def doses(pop: Population) -> int:
        total = 0
        for i in range(3_000):
            h = pop.household(i)
            records = pop.health_records(h)
            for r in records:
                assert h.child.birth_date < r.service_date <= pop.as_of
                assert r.patient_id == h.child.cui
            rota = [r for r in records if r.item_code == "90681"]
            assert [r.lab_value for r in rota] == sorted(r.lab_value for r in rota)
            for r in rota:
                due = 61 if r.lab_value == "1" else 122
                assert due <= (r.service_date - h.child.birth_date).days <= due + 25
            total += len(rota)
        return total

    assert doses(compliant) > 1.8 * doses(negligent)


def test_districts_above_and_below_threshold_both_appear() -> None:
    pop = Population(DISTRICTS, size=10_000)
    eligible = Counter(pop.household(i).district.eligible for i in range(0, 10_000, 3))
    assert eligible[True] > eligible[False] > 0
    ranges = [pop.district_range(d.inei) for d in DISTRICTS]
    assert sum(len(r) for r in ranges) == 10_000
    some = next(r for r in ranges if len(r) > 3)
    assert all(pop.household(i).district.inei == DISTRICTS[ranges.index(some)].inei for i in some)


def test_district_file_in_the_public_format(tmp_path: Path) -> None:
    header = (
        "inei,reniec,departamento,provincia,distrito,region,macroregion_inei,"
        "macroregion_minsa,iso_3166_2,fips,capital,superficie,pob_densidad_2020,altitude,"
        "latitude,longitude,indice_vulnerabilidad_alimentaria,idh_2019,pct_pobreza_total,"
        "pct_pobreza_extrema"
    )
    assert all(c in header.split(",") for c in REQUIRED_COLUMNS)
    rows = [
        "070101,240101,CALLAO,CALLAO,CALLAO,CALLAO,COSTA,LIMA,PE-CAL,07,Callao,45,9000,7,-12,-77,0.1,0.7,9.5,0.4",
        "080601,080601,CUSCO,CANCHIS,SICUANI,CUSCO,SUR,SUR,PE-CUS,08,Sicuani,645,95,3550,-14,-71,0.4,0.5,33.1,6.2",
    ]
    path = tmp_path / "ubigeo.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    districts = load_districts(path)
    assert [(d.inei, d.reniec, d.eligible) for d in districts] == [
        ("070101", "240101", False),
        ("080601", "080601", True),
    ]
    pop = Population(districts, size=1_000)
    callao = pop.district_range("240101")
    assert callao == pop.district_range("070101")
    assert 0 < len(callao) < 1_000


def test_half_a_million_households_serve_random_lookups_with_flat_memory() -> None:
    pop = Population(DISTRICTS, size=500_000)
    pop.household(0)  # the look-up memo: 4 bytes a household, taken once
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    rng = random.Random(5)
    for _ in range(5_000):
        i = rng.randrange(500_000)
        found = pop.lookup(pop.identifier(i, rng.choice((ROLE_MOTHER, ROLE_CHILD))))
        assert found is not None
        assert found.household.index == i
        pop.health_records(found.household)
        pop.health_records_of(rng.randrange(500_000))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 512 * 1024, f"population grew by {grown} bytes over 5,000 look-ups"


def test_his_rows_are_the_same_whether_the_household_was_built_before() -> None:
    """The HIS mock reads a child's services by index, from what the population kept
    of a household it built (the RENIEC extract's) or by building it: the same rows."""
    built, fresh = Population(DISTRICTS, size=30_000), Population(DISTRICTS, size=30_000)
    anaemic = cred = 0
    for i in range(0, 30_000, 7):
        expected = built.health_records(built.household(i))
        assert built.health_records_of(i) == expected
        assert fresh.health_records_of(i) == expected
        anaemic += any(r.item_code == "D509" for r in expected)
        cred += any(r.weight_kg is not None for r in expected)
    # Rows that read the child's measures and haemoglobin were among them.
    assert anaemic
    assert cred


def test_newborn_scan_respects_range_and_ubigeo() -> None:
    pop = Population(DISTRICTS, size=10_000)
    start, end = date(2020, 6, 1), date(2020, 6, 30)
    everywhere = list(pop.newborns(start, end))
    assert everywhere
    assert all(start <= pop.household(i).child.birth_date <= end for i in everywhere[:200])
    district = pop.household(everywhere[0]).district
    local = list(pop.newborns(start, end, [district.inei]))
    assert local == [i for i in everywhere if pop.household(i).district == district]
    assert list(pop.newborns(start, start - timedelta(days=1))) == []


def test_population_sample_command() -> None:
    result = CliRunner().invoke(
        cli, ["population", "sample", "--count", "3", "--seed", "9", "--size", "500000", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["size"] == 500_000
    pop = Population(DISTRICTS, seed=9, size=500_000)
    for row in body["households"]:
        assert pop.lookup(row["mother_dni"]).household.index == row["household"]  # type: ignore[union-attr]
        assert pop.lookup(row["child_cui"]).role == ROLE_CHILD  # type: ignore[union-attr]
        assert stdnum_cui.is_valid(row["child_cui"] + row["child_check_digit"])


def test_population_registers_command(tmp_path: Path) -> None:
    target = tmp_path / "registers"
    result = CliRunner().invoke(
        cli, ["population", "registers", str(target), "--seed", "9", "--size", "50"], env=ENGLISH
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {target / 'rnh.csv'} and {target / 'districts.csv'}" in result.output
    lines = (target / "rnh.csv").read_text().splitlines()
    pop = Population(DISTRICTS, seed=9, size=50)
    assert lines[0] == "dni,formal_payroll"
    assert lines[1:] == [
        f"{h.mother.dni},{'true' if h.formal_payroll else 'false'}"
        for h in (pop.household(i) for i in range(50))
    ]
