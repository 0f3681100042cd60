"""OSIPTEL mock: lines per document, masked unless the key's purpose allows."""

from __future__ import annotations

import httpx

from adapters.osiptel.mock import create_app
from adapters.sandbox.settings import SandboxSettings
from gateway.settings import REPO_ROOT
from tests.fixtures.support import Contract

CONTRACT = Contract(REPO_ROOT / "contracts" / "osiptel" / "openapi.yaml")
PATH = "/v1/lineas"


async def test_lines_match_the_population_and_the_contract(sandbox: SandboxSettings) -> None:
    pop = sandbox.population
    h = next(pop.household(i) for i in range(100) if len(pop.household(i).phone_lines) >= 2)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sandbox)), base_url="http://o"
    ) as http:
        params = {"tipoDocumento": "DNI", "numeroDocumento": h.mother.dni}
        full = await http.get(PATH, params=params, headers={"X-Api-Key": "osiptel-sandbox-juntos"})
        CONTRACT.check(PATH, full)
        assert [line["numero"] for line in full.json()["lineas"]] == [
            line.number for line in h.phone_lines
        ]
        masked = await http.get(
            PATH, params=params, headers={"X-Api-Key": "osiptel-sandbox-public"}
        )
        CONTRACT.check(PATH, masked)
        for line, real in zip(masked.json()["lineas"], h.phone_lines, strict=True):
            assert line["numero"] != real.number
            assert "*****" in line["numero"]
            assert line["empresa"] == real.operator

        child = await http.get(
            PATH,
            params={"tipoDocumento": "DNI", "numeroDocumento": h.child.cui},
            headers={"X-Api-Key": "osiptel-sandbox-juntos"},
        )
        CONTRACT.check(PATH, child)
        assert child.json()["lineas"] == []

        bad = await http.get(
            PATH,
            params={"tipoDocumento": "DNI", "numeroDocumento": "12"},
            headers={"X-Api-Key": "osiptel-sandbox-juntos"},
        )
        assert bad.status_code == 400
        CONTRACT.check(PATH, bad)
        assert bad.json()["campo"] == "numeroDocumento"

        denied = await http.get(PATH, params=params)
        assert denied.status_code == 401
        CONTRACT.check(PATH, denied)

        await http.put("/_admin/faults", json={"error_rate": 1})
        down = await http.get(PATH, params=params, headers={"X-Api-Key": "osiptel-sandbox-juntos"})
        CONTRACT.check(PATH, down)


async def test_many_documents_in_one_request(sandbox: SandboxSettings) -> None:
    pop = sandbox.population
    households = [pop.household(i) for i in range(5)]
    documents = [{"tipoDocumento": "DNI", "numeroDocumento": h.mother.dni} for h in households]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sandbox)), base_url="http://o"
    ) as http:
        answer = await http.post(
            PATH + "/consultas",
            json={"documentos": documents},
            headers={"X-Api-Key": "osiptel-sandbox-public"},
        )
        CONTRACT.check(PATH + "/consultas", answer)
        results = answer.json()["resultados"]
        for h, result in zip(households, results, strict=True):
            single = await http.get(
                PATH,
                params={"tipoDocumento": "DNI", "numeroDocumento": h.mother.dni},
                headers={"X-Api-Key": "osiptel-sandbox-public"},
            )
            assert result == single.json()  # masked for this key, as one by one
        bad = await http.post(
            PATH + "/consultas",
            json={"documentos": [*documents, {"tipoDocumento": "DNI", "numeroDocumento": "1"}]},
            headers={"X-Api-Key": "osiptel-sandbox-juntos"},
        )
        assert bad.status_code == 400
        assert bad.json()["campo"] == "documentos[5]"
        CONTRACT.check(PATH + "/consultas", bad)
