"""RENIEC mock through zeep and the committed WSDL: every result code, over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from zeep import AsyncClient
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from adapters.reniec.mock import CONTRACTS, create_app
from adapters.sandbox.population import Population
from adapters.sandbox.settings import ReniecUser, SandboxSettings
from tests.fixtures.support import Contract, serve_on_loopback

BINDING = "{http://ws.reniec.gob.pe/}ReniecConsultaDniPortBinding"
OFFICIAL = {"nuDniUsuario": "40000001", "nuRucUsuario": "20900000015", "password": "juntos-sandbox"}


@pytest.fixture
async def reniec(sandbox: SandboxSettings) -> AsyncIterator[tuple[str, AsyncServiceProxy]]:
    settings = sandbox.model_copy(
        update={
            "reniec_daily_quota": 6,
            "reniec_users": [
                *sandbox.reniec_users,
                ReniecUser(dni="40000009", ruc="20900000015", password="q"),
            ],
        }
    )
    async with serve_on_loopback(create_app(settings)) as base:
        async with httpx.AsyncClient() as http:
            transport = AsyncTransport(client=http, wsdl_client=httpx.Client())
            client = AsyncClient(str(CONTRACTS / "consulta-dni.wsdl"), transport=transport)
            proxy = AsyncServiceProxy(
                client, client.wsdl.bindings[BINDING], address=f"{base}/ws/ConsultaDni"
            )
            yield base, proxy
            transport.wsdl_client.close()


async def consult(proxy: AsyncServiceProxy, dni: str, **official: str) -> Any:
    return await proxy.consultar(arg0={"nuDniConsulta": dni, **(OFFICIAL | official)})


def adult_alive(pop: Population) -> int:
    return next(
        i
        for i in range(pop.size)
        if not pop.household(i).mother.deceased
        and (pop.as_of - pop.household(i).mother.birth_date).days > 19 * 365
    )


async def test_each_result_code(
    sandbox: SandboxSettings, reniec: tuple[str, AsyncServiceProxy]
) -> None:
    _, proxy = reniec
    pop = sandbox.population
    h = pop.household(adult_alive(pop))

    found = await consult(proxy, h.mother.dni)
    assert found.coResultado == "0000"
    person = found.datosPersona
    assert (person.apPrimer, person.apSegundo, person.prenombres) == (
        h.mother.first_surname,
        h.mother.second_surname,
        h.mother.given_names,
    )
    assert person.ubigeo == h.district.reniec_label
    assert person.foto[:3] == b"\xff\xd8\xff"  # a JPEG
    assert person.restriccion in (None, "")

    minor = await consult(proxy, h.child.cui)
    assert (minor.coResultado, minor.datosPersona) == ("0001", None)
    assert (await consult(proxy, "00000000")).coResultado in {"0999", "0000", "0001"}
    unknown = next(
        n for n in (f"{k:08d}" for k in range(10**7, 10**8, 7919)) if pop.lookup(n) is None
    )
    assert (await consult(proxy, unknown)).coResultado == "0999"
    assert (await consult(proxy, "1234")).coResultado == "1000"
    assert (await consult(proxy, h.mother.dni, password="wrong")).coResultado == "1001"
    assert (await consult(proxy, h.mother.dni, nuRucUsuario="20100000001")).coResultado == "1001"
    expired = {"nuDniUsuario": "40000002", "password": "old-password"}
    assert (await consult(proxy, h.mother.dni, **expired)).coResultado == "1002"

    quota_user = {"nuDniUsuario": "40000009", "password": "q"}
    codes = [(await consult(proxy, h.mother.dni, **quota_user)).coResultado for _ in range(7)]
    assert codes == ["0000"] * 6 + ["1003"]


async def test_deceased_person_carries_the_restriction(
    sandbox: SandboxSettings, reniec: tuple[str, AsyncServiceProxy]
) -> None:
    _, proxy = reniec
    pop = sandbox.population
    h = next(
        pop.household(i)
        for i in range(pop.size)
        if pop.household(i).mother.deceased
        and (pop.as_of - pop.household(i).mother.birth_date).days > 19 * 365
    )
    result = await consult(proxy, h.mother.dni)
    assert result.coResultado == "0000"
    assert result.datosPersona.restriccion == "FALLECIMIENTO"


async def test_served_wsdl_points_at_the_mock_and_loads_in_zeep(
    reniec: tuple[str, AsyncServiceProxy],
) -> None:
    base, _ = reniec
    with httpx.Client() as wsdl_http:
        # zeep fetches WSDLs synchronously: do it off the loop that serves the mock.
        wsdl = await asyncio.to_thread(wsdl_http.get, f"{base}/ws/ConsultaDni?wsdl")
        assert wsdl.status_code == 200
        assert f'location="{base}/ws/ConsultaDni"' in wsdl.text
        async with httpx.AsyncClient() as http:
            transport = AsyncTransport(client=http, wsdl_client=wsdl_http)
            client = await asyncio.to_thread(
                AsyncClient, f"{base}/ws/ConsultaDni?wsdl", transport=transport
            )
            result = await client.service.consultar(arg0={"nuDniConsulta": "1", **OFFICIAL})
            assert result.coResultado == "1000"


async def test_xml_with_entities_is_refused_with_a_soap_fault(
    reniec: tuple[str, AsyncServiceProxy],
) -> None:
    base, _ = reniec
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE S [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>&x;'
        b"</S:Body></S:Envelope>"
    )
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.post("/ws/ConsultaDni", content=hostile)
    assert response.status_code == 500
    assert b"faultcode" in response.content
    assert b"root:" not in response.content


async def test_padron_extract_pages_validate_against_contract(sandbox: SandboxSettings) -> None:
    contract = Contract(CONTRACTS / "padron-extract.openapi.yaml")
    pop = sandbox.population
    app = create_app(sandbox)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://r",
        auth=("40000001", "juntos-sandbox"),
    ) as http:
        params: dict[str, Any] = {"desde": "2020-03-01", "hasta": "2020-03-31", "limite": 40}
        seen: list[str] = []
        cursor = None
        while True:
            response = await http.get(
                "/padron/nacimientos", params=params | ({"cursor": cursor} if cursor else {})
            )
            contract.check("/padron/nacimientos", response)
            page = response.json()
            seen += [row["nuCui"] for row in page["filas"]]
            cursor = page["siguiente"]
            if cursor is None:
                break
        expected = [
            pop.household(i).child.cui for i in pop.newborns(date(2020, 3, 1), date(2020, 3, 31))
        ]
        assert seen == expected
        assert len(seen) > 40

        district = pop.household(0).district.inei
        local = await http.get(
            "/padron/nacimientos", params=params | {"ubigeo": district, "limite": 1000}
        )
        assert {row["coUbigeoInei"] for row in local.json()["filas"]} <= {district}

        bad = await http.get("/padron/nacimientos", params={"desde": "2020-13-01", "hasta": "x"})
        contract.check("/padron/nacimientos", bad)
        assert bad.json()["campo"] == "desde"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://r"
    ) as anon:
        denied = await anon.get("/padron/nacimientos", params=params)
        assert denied.status_code == 401
        contract.check("/padron/nacimientos", denied)


async def test_a_page_looks_at_a_bounded_part_of_the_register() -> None:
    """Pages of a large register return while the rest is still unread: some hold fewer
    rows than asked, and all of them together are the range's births, once each."""
    sandbox = SandboxSettings(size=50_000)
    pop = sandbox.population
    start, end = date(2020, 5, 1), date(2020, 5, 3)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sandbox)),
        base_url="http://r",
        auth=("40000001", "juntos-sandbox"),
    ) as http:
        seen: list[str] = []
        short_pages = 0
        cursor = None
        while True:
            params: dict[str, Any] = {"desde": start.isoformat(), "hasta": end.isoformat()}
            response = await http.get(
                "/padron/nacimientos", params=params | ({"cursor": cursor} if cursor else {})
            )
            page = response.json()
            seen += [row["nuCui"] for row in page["filas"]]
            cursor = page["siguiente"]
            if cursor is None:
                break
            short_pages += len(page["filas"]) < 1000
    assert seen == [pop.household(i).child.cui for i in pop.newborns(start, end)]
    assert short_pages >= 2
