"""All four mocks see the same household the same way, over real loopback HTTP."""

from __future__ import annotations

import asyncio

import httpx
from zeep import AsyncClient
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport

from adapters.reniec.mock import CONTRACTS
from adapters.sandbox.server import mock_servers
from adapters.sandbox.settings import SandboxSettings
from tests.fixtures.support import free_port


async def test_one_household_across_the_four_mocks() -> None:
    sandbox = SandboxSettings(
        reniec_port=free_port(),
        osiptel_port=free_port(),
        bn_port=free_port(),
        minsa_his_port=free_port(),
    )
    pop = sandbox.population
    h = next(
        pop.household(i)
        for i in range(500)
        if pop.household(i).phone_lines
        and not pop.household(i).mother.deceased
        and pop.health_records(pop.household(i))
        and (pop.as_of - pop.household(i).mother.birth_date).days > 19 * 365
    )
    # The four mocks on the free ports above (not the SMSC, whose ports are fixed).
    servers = mock_servers(sandbox, only=("reniec", "osiptel", "bn", "minsa_his"))
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    deadline = asyncio.get_running_loop().time() + 30
    while not all(s.started for s in servers):
        # A server that cannot bind ends its task: fail instead of waiting for ever.
        assert not any(t.done() for t in tasks), [t.exception() for t in tasks if t.done()]
        assert asyncio.get_running_loop().time() < deadline, "the mocks did not start"
        await asyncio.sleep(0.01)
    base = {
        name: f"http://127.0.0.1:{getattr(sandbox, name + '_port')}"
        for name in ("reniec", "osiptel", "bn", "minsa_his")
    }
    try:
        async with httpx.AsyncClient() as http:
            transport = AsyncTransport(client=http, wsdl_client=httpx.Client())
            client = AsyncClient(str(CONTRACTS / "consulta-dni.wsdl"), transport=transport)
            reniec = AsyncServiceProxy(
                client,
                client.wsdl.bindings["{http://ws.reniec.gob.pe/}ReniecConsultaDniPortBinding"],
                address=f"{base['reniec']}/ws/ConsultaDni",
            )
            identity = (
                await reniec.consultar(
                    arg0={
                        "nuDniConsulta": h.mother.dni,
                        "nuDniUsuario": "40000001",
                        "nuRucUsuario": "20900000015",
                        "password": "juntos-sandbox",
                    }
                )
            ).datosPersona
            padron = (
                await http.get(
                    f"{base['reniec']}/padron/nacimientos",
                    params={
                        "desde": h.child.birth_date.isoformat(),
                        "hasta": h.child.birth_date.isoformat(),
                        "ubigeo": h.district.inei,
                    },
                    auth=("40000001", "juntos-sandbox"),
                )
            ).json()["filas"]
            row = next(r for r in padron if r["nuCui"] == h.child.cui)
            lines = (
                await http.get(
                    f"{base['osiptel']}/v1/lineas",
                    params={"tipoDocumento": "DNI", "numeroDocumento": h.mother.dni},
                    headers={"X-Api-Key": "osiptel-sandbox-juntos"},
                )
            ).json()["lineas"]
            account = (
                await http.post(
                    f"{base['bn']}/cuentas/v1/aperturas",
                    json={"tipoDocumento": "DNI", "numeroDocumento": h.mother.dni},
                    headers={"X-Api-Key": "bn-sandbox-juntos", "X-Request-Id": "c1"},
                )
            ).json()
            services = (
                await http.get(
                    f"{base['minsa_his']}/his/v1/pacientes/{row['nuCui']}/atenciones",
                    headers={"X-Api-Key": "his-sandbox-juntos"},
                )
            ).json()["atenciones"]
            transport.wsdl_client.close()
    finally:
        for s in servers:
            s.should_exit = True
        await asyncio.gather(*tasks)

    # RENIEC's identity and the Padrón row name the same mother, in the same district.
    assert (identity.apPrimer, identity.prenombres) == (
        row["apPaternoMadre"],
        row["prenombresMadre"],
    )
    assert row["nuDniMadre"] == h.mother.dni
    assert identity.ubigeo == h.district.reniec_label
    assert row["coUbigeoInei"] == h.district.inei
    # OSIPTEL lists her lines; the bank opens her account; HIS knows the child of the Padrón.
    assert [line["numero"] for line in lines] == [line.number for line in h.phone_lines]
    assert account["numeroDocumento"] == h.mother.dni
    assert account["cci"][3:6] == f"{int(h.district.inei) % 1000:03d}"
    assert {s["Id_Paciente"] for s in services} == {h.child.cui}
    assert {s["Id_Establecimiento"] for s in services} == {row["coEstablecimiento"]}
