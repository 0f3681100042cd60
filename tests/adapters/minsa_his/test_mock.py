"""MINSA HIS mock: a child's rows and the paged extract, against the contract."""

from __future__ import annotations

from datetime import date

import httpx

from adapters.minsa_his.mock import create_app
from adapters.sandbox.population import Population
from adapters.sandbox.settings import SandboxSettings
from gateway.settings import REPO_ROOT
from tests.fixtures.support import Contract

CONTRACT = Contract(REPO_ROOT / "contracts" / "minsa_his" / "openapi.yaml")
BY_PATIENT = "/his/v1/pacientes/{documento}/atenciones"
EXTRACT = "/his/v1/atenciones"
KEY = {"X-Api-Key": "his-sandbox-juntos"}


async def test_patient_rows_and_errors(sandbox: SandboxSettings) -> None:
    pop = sandbox.population
    h = next(pop.household(i) for i in range(200) if len(pop.health_records(pop.household(i))) > 8)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sandbox)), base_url="http://h"
    ) as http:
        found = await http.get(f"/his/v1/pacientes/{h.child.cui}/atenciones", headers=KEY)
        CONTRACT.check(BY_PATIENT, found)
        rows = found.json()["atenciones"]
        assert [r["Codigo_Item"] for r in rows] == [r.item_code for r in pop.health_records(h)]
        assert {r["Id_Paciente"] for r in rows} == {h.child.cui}

        for path, status in [
            (f"/his/v1/pacientes/{h.mother.dni}/atenciones", 404),
            ("/his/v1/pacientes/123/atenciones", 400),
        ]:
            response = await http.get(path, headers=KEY)
            assert response.status_code == status
            CONTRACT.check(BY_PATIENT, response)
        denied = await http.get(f"/his/v1/pacientes/{h.child.cui}/atenciones")
        assert denied.status_code == 401
        CONTRACT.check(BY_PATIENT, denied)


def rows_in_range(pop: Population, start: date, end: date) -> list[str]:
    """Every row the population registers in the range, computed without the mock."""
    return [
        r.appointment_id + r.item_code
        for i in range(pop.size)
        for r in pop.health_records(pop.household(i))
        if start <= r.service_date <= end
    ]


async def walk_extract(
    http: httpx.AsyncClient, start: date, end: date, limit: str | None = None
) -> tuple[list[str], int]:
    """Every row of the extract, page after page (each checked against the contract),
    and how many pages it took."""
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        params = {"desde": start.isoformat(), "hasta": end.isoformat()}
        if limit:
            params["limite"] = limit
        if cursor:
            params["cursor"] = cursor
        response = await http.get(EXTRACT, params=params, headers=KEY)
        CONTRACT.check(EXTRACT, response)
        page = response.json()
        pages += 1
        seen += [r["Id_Cita"] + r["Codigo_Item"] for r in page["atenciones"]]
        cursor = page["siguiente"]
        if cursor is None:
            return seen, pages


async def test_extract_pages_cover_the_range_exactly_once() -> None:
    sandbox = SandboxSettings(size=400)
    pop = sandbox.population
    start, end = date(2020, 9, 1), date(2020, 9, 30)
    expected = rows_in_range(pop, start, end)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sandbox)), base_url="http://h"
    ) as http:
        seen, _ = await walk_extract(http, start, end, limit="25")
        assert seen == expected
        assert len(expected) > 25

        bad = await http.get(
            EXTRACT, params={"desde": "2020-09-30", "hasta": "2020-09-01"}, headers=KEY
        )
        assert bad.status_code == 400
        CONTRACT.check(EXTRACT, bad)
        assert bad.json()["campo"] == "hasta"


async def test_many_patients_in_one_request(sandbox: SandboxSettings) -> None:
    path = "/his/v1/pacientes/atenciones"
    pop = sandbox.population
    children = [pop.household(i).child.cui for i in range(3)]
    mother = pop.household(0).mother.dni
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sandbox)), base_url="http://h"
    ) as http:
        answer = await http.post(path, json={"documentos": [*children, mother]}, headers=KEY)
        CONTRACT.check(path, answer)
        patients = answer.json()["pacientes"]
        assert [p["Id_Paciente"] for p in patients] == [*children, mother]
        assert patients[-1] == {"Id_Paciente": mother, "encontrado": False}
        for cui, patient in zip(children, patients, strict=False):
            single = await http.get(f"/his/v1/pacientes/{cui}/atenciones", headers=KEY)
            assert patient["atenciones"] == single.json()["atenciones"]
        bad = await http.post(path, json={"documentos": [children[0], "12"]}, headers=KEY)
        assert bad.status_code == 400
        assert bad.json()["campo"] == "documentos[1]"
        CONTRACT.check(path, bad)


async def test_extract_of_a_large_register_in_bounded_pages() -> None:
    sandbox = SandboxSettings(size=50_000)
    pop = sandbox.population
    start, end = date(2020, 9, 1), date(2020, 9, 1)
    expected = rows_in_range(pop, start, end)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sandbox)), base_url="http://h"
    ) as http:
        for first, last, wanted in [
            (start, end, expected),
            (date(2026, 1, 1), date(2026, 1, 31), []),  # after the register's date
        ]:
            seen, pages = await walk_extract(http, first, last)
            assert seen == wanted
            assert pages >= 3  # each page looks at a part of the register
    assert expected
