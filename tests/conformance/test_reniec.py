"""RENIEC as its published ``ReniecConsultaDni`` contract says, and as the field sends.

Field cases 1-3 (``../shared/field-cases``): the request a WSDL-generated client sends,
an answer carrying elements the WSDL does not declare, Latin-1 names and nil elements.
Their neighbours too: other places for unknown elements, answers missing what the
gateway needs (permanent, neither retried nor held against the partner by the breaker),
a client generated from our WSDL by another library (suds), and the renewal of an
expired password through ``actualizarcredencial``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import xmlschema
from fastapi import FastAPI
from lxml import etree
from prometheus_client import CollectorRegistry
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from suds.client import Client as SudsClient

from adapters.reniec.client import ReniecAdapter
from adapters.reniec.mock import CONTRACTS, NS, SOAP_NS, create_app
from adapters.reniec.settings import ReniecSettings
from adapters.sandbox.settings import SandboxSettings
from gateway.app import create_app as gateway_app
from gateway.core.db import transaction
from gateway.partners.credentials import Actor, PartnerCredential, credential_aad
from gateway.partners.errors import (
    PartnerContractMismatch,
    PartnerInvalidInput,
    PartnerMalformed,
    PartnerNotFound,
    PartnerRefused,
    PartnerUnavailable,
)
from gateway.partners.health import PartnerHealth
from gateway.partners.resilience import PartnerGuard
from gateway.settings import Settings
from gateway.state import AppState
from tests.fixtures.cli import env_for, invoke_async
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.partners import Mocks, purpose
from tests.fixtures.support import serve_on_loopback

pytestmark = pytest.mark.partner_mocks

REPO = Path(__file__).resolve().parents[2]
FIELD_CASES = REPO.parent / "shared" / "field-cases"
OFFICIAL = {"nuDniUsuario": "40000001", "nuRucUsuario": "20900000015", "password": "juntos-sandbox"}
MOTHER = "60542601"  # a mother of the default sandbox population (seed 2020)


def field_case(name: str) -> bytes:
    path = FIELD_CASES / name
    if not path.is_file():
        pytest.skip(f"{path} is not there (the shared folder sits beside the clone)")
    return path.read_bytes()


def soap_result(code: str | None, children: str = "") -> bytes:
    co = f"<coResultado>{code}</coResultado>" if code is not None else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="{SOAP_NS}"><S:Body>'
        f'<ns2:consultarResponse xmlns:ns2="{NS}"><return>{co}'
        f"<deResultado>X</deResultado>{children}</return></ns2:consultarResponse>"
        "</S:Body></S:Envelope>"
    ).encode()


def coded(root: bytes) -> str:
    """coResultado of a SOAP answer, read with lxml."""
    found = etree.fromstring(root).find(f".//{{{NS}}}consultarResponse/return/coResultado")
    assert found is not None, root[:400]
    return str(found.text)


# ---------------------------------------------------------------- the mock, as a server


@pytest.fixture
async def reniec_url() -> AsyncIterator[str]:
    async with serve_on_loopback(create_app(SandboxSettings())) as base:
        yield base


async def post_soap(base: str, body: bytes, action: str | None = '"consultar"') -> httpx.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if action is not None:
        headers["SOAPAction"] = action
    async with httpx.AsyncClient() as http:
        return await http.post(f"{base}/ws/ConsultaDni", content=body, headers=headers)


async def test_field_case_01_the_generated_clients_request_is_answered(reniec_url: str) -> None:
    body = field_case("01-reniec-consultar-request.xml")
    response = await post_soap(reniec_url, body)
    assert response.status_code == 200, response.text
    assert coded(response.content) == "0000"
    person = etree.fromstring(response.content).find(f".//{{{NS}}}consultarResponse/return")
    assert person is not None
    assert person.find("datosPersona/apPrimer") is not None
    # Posted by hand, without a SOAPAction header, it is the same request.
    assert coded((await post_soap(reniec_url, body, action=None)).content) == "0000"


def _variant(body: bytes, old: bytes, new: bytes) -> bytes:
    assert old in body
    return body.replace(old, new)


@pytest.mark.parametrize(
    ("change", "action", "fault"),
    [
        ((b"<arg0>", b"<peticionConsulta>", b"</arg0>", b"</peticionConsulta>"), None, "arg0"),
        ((b"<arg0>", b"<ws:arg0>", b"</arg0>", b"</ws:arg0>"), None, "arg0"),
        ((), '"actualizarcredencial"', "SOAPAction"),
        ((), '""', "SOAPAction"),
        (
            (b"<ws:consultar>", b"<ws:consulta>", b"</ws:consultar>", b"</ws:consulta>"),
            None,
            "operation",
        ),
    ],
    ids=["old-element-name", "qualified-arg0", "other-action", "empty-action", "unknown-operation"],
)
async def test_requests_the_wsdl_does_not_describe_get_a_client_fault(
    reniec_url: str, change: tuple[bytes, ...], action: str | None, fault: str
) -> None:
    body = field_case("01-reniec-consultar-request.xml")
    for old, new in zip(change[::2], change[1::2], strict=True):
        body = _variant(body, old, new)
    response = await post_soap(reniec_url, body, action=action or '"consultar"')
    assert response.status_code == 500
    root = etree.fromstring(response.content)
    assert root.findtext(".//faultcode") == "S:Client"
    assert fault in str(root.findtext(".//faultstring"))


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        (b"<password>", b"<feConsulta>2026-12-01</feConsulta><password>", "0000"),
        (b"<nuDniConsulta>60542601</nuDniConsulta>", b"<nuDniConsulta/>", "1000"),
        (b"", b"", "1000"),
        (b"<password>juntos-sandbox</password>", b"", "1001"),
    ],
    ids=["unknown-child-ignored", "empty-dni", "nil-arg0", "no-password"],
)
async def test_arg0_is_read_as_jaxb_reads_it(
    reniec_url: str, old: bytes, new: bytes, code: str
) -> None:
    body = field_case("01-reniec-consultar-request.xml")
    if old:
        body = _variant(body, old, new)
    else:  # arg0 sent as nil, as a generated client sends a null argument
        start, end = body.index(b"<arg0>"), body.index(b"</arg0>") + len(b"</arg0>")
        nil = b'<arg0 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>'
        body = body[:start] + nil + body[end:]
    response = await post_soap(reniec_url, body)
    assert response.status_code == 200, response.text
    assert coded(response.content) == code


# ---------------------------------------------------------------- a suds client from our WSDL


def suds_client(base: str) -> SudsClient:
    return SudsClient(
        (CONTRACTS / "consulta-dni.wsdl").as_uri(), location=f"{base}/ws/ConsultaDni", cache=None
    )


def suds_consultar(client: SudsClient, dni: str, **official: str) -> Any:
    arg0 = client.factory.create("peticionConsulta")
    arg0.nuDniConsulta = dni
    for name, value in (OFFICIAL | official).items():
        setattr(arg0, name, value)
    return client.service.consultar(arg0)


def suds_renew(client: SudsClient, dni: str, old: str, new: str) -> Any:
    arg0 = client.factory.create("peticionActualizarCredencial")
    arg0.nuDni, arg0.nuRuc = dni, "20900000015"
    arg0.credencialAnterior, arg0.credencialNueva = old, new
    return client.service.actualizarcredencial(arg0)


async def test_a_suds_client_generated_from_the_wsdl_gets_every_result(reniec_url: str) -> None:
    pop = SandboxSettings().population
    unknown = next(
        n for n in (f"{k:08d}" for k in range(10**7, 10**8, 7919)) if pop.lookup(n) is None
    )

    def exchange() -> dict[str, Any]:
        client = suds_client(reniec_url)
        found = suds_consultar(client, MOTHER)
        sent = client.last_sent()
        expired = {"nuDniUsuario": "40000002", "password": "old-password"}
        results = {
            "found": found,
            "sent": sent,
            "unknown": suds_consultar(client, unknown),
            "bad-input": suds_consultar(client, "1234"),
            "bad-password": suds_consultar(client, MOTHER, password="wrong"),
            "expired": suds_consultar(client, MOTHER, **expired),
            "renewed": suds_renew(client, "40000002", "old-password", "new-password-1"),
            "after-new": suds_consultar(
                client, MOTHER, nuDniUsuario="40000002", password="new-password-1"
            ),
            "after-old": suds_consultar(client, MOTHER, **expired),
        }
        return results

    # suds is synchronous: call it off the loop that serves the mock.
    r = await asyncio.to_thread(exchange)
    assert r["found"].coResultado == "0000"
    assert r["found"].datosPersona.apPrimer
    # What suds put on the wire is the shape of field case 1.
    assert str(r["sent"]).count("<arg0>") == 1
    assert r["unknown"].coResultado == "0999"
    assert r["bad-input"].coResultado == "1000"
    assert r["bad-password"].coResultado == "1001"
    assert r["expired"].coResultado == "1002"
    assert r["renewed"].coResultado == "0000"
    assert r["after-new"].coResultado == "0000"
    assert r["after-old"].coResultado == "1001"


# ---------------------------------------------------------------- the adapter, reading answers


@dataclass
class Scripted:
    """A stand-in RENIEC answering a fixed body to every SOAP request, counting them."""

    body: bytes = b""
    content_type: str = "text/xml; charset=utf-8"
    status: int = 200
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def answer(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        return Response(self.body, status_code=self.status, media_type=self.content_type)


@dataclass
class Rig:
    server: Scripted
    adapter: ReniecAdapter
    guard: PartnerGuard


POLICY = {
    "retries": 2,
    "backoff_initial_seconds": 0.0,
    "backoff_max_seconds": 0.0,
    "breaker_consecutive_failures": 3,
    "breaker_min_calls": 10,
    "breaker_cooldown_seconds": 60.0,
}


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    server = Scripted()
    app = Starlette(routes=[Route("/ws/ConsultaDni", server.answer, methods=["POST"])])
    async with serve_on_loopback(app) as base, httpx.AsyncClient() as http:
        settings = ReniecSettings(base_url=base, **POLICY)
        guard = PartnerGuard("reniec", settings, PartnerHealth(CollectorRegistry()))
        yield Rig(server, ReniecAdapter(settings, http, guard, REPO / "contracts"), guard)


async def test_the_adapter_sends_what_the_published_wsdl_describes(rig: Rig) -> None:
    rig.server.body = field_case("02-reniec-answer-extra-element.xml")
    await rig.adapter.person(MOTHER)
    [(headers, body)] = rig.server.requests
    assert headers["soapaction"].strip('"') == "consultar"
    wrapper = etree.fromstring(body).find(f"{{{SOAP_NS}}}Body/{{{NS}}}consultar")
    assert wrapper is not None
    assert [child.tag for child in wrapper] == ["arg0"]  # one child, unqualified
    xmlschema.XMLSchema(str(CONTRACTS / "consulta-dni.xsd")).validate(wrapper)
    assert wrapper.findtext("arg0/nuDniConsulta") == MOTHER


async def test_field_case_02_undeclared_elements_are_ignored(rig: Rig) -> None:
    rig.server.body = field_case("02-reniec-answer-extra-element.xml")
    person = await rig.adapter.person(MOTHER)
    assert (person.first_surname, person.second_surname, person.given_names) == (
        "QUISPE",
        "MAMANI",
        "ROSA",
    )
    assert (person.address, person.marital_status, person.place_name) == (
        "JR. LOS OLIVOS 123",
        "SOLTERO",
        "LIMA/LIMA/SAN ISIDRO",
    )
    assert person.ubigeo is None  # RENIEC gives the names; the gateway finds the code
    assert person.restriction == ""
    assert rig.guard.breaker.state == "closed"


PERSONA = (
    "<apPrimer>QUISPE</apPrimer><apSegundo>MAMANI</apSegundo><direccion>JR. A 1</direccion>"
    "<estadoCivil>SOLTERO</estadoCivil><prenombres>ROSA</prenombres>"
    "<restriccion>FALLECIMIENTO</restriccion><ubigeo>LIMA/LIMA/LIMA</ubigeo>"
)


@pytest.mark.parametrize(
    "body",
    [
        soap_result("0000", f"<feConsulta>2026</feConsulta><datosPersona>{PERSONA}</datosPersona>"),
        soap_result("0000", f"<datosPersona>{PERSONA}<x><y>1</y><z/></x></datosPersona>"),
        soap_result(
            "0000", f'<datosPersona><n:sexo xmlns:n="urn:x">F</n:sexo>{PERSONA}</datosPersona>'
        ),
        soap_result(
            "0000", f"<datosPersona>{PERSONA}</datosPersona><trazabilidad>1</trazabilidad>"
        ),
        soap_result(
            "0000",
            "<datosPersona><ubigeo>LIMA/LIMA/LIMA</ubigeo><restriccion>FALLECIMIENTO"
            "</restriccion><prenombres>ROSA</prenombres><apSegundo>MAMANI</apSegundo>"
            "<apPrimer>QUISPE</apPrimer><estadoCivil>SOLTERO</estadoCivil>"
            "<direccion>JR. A 1</direccion></datosPersona>",
        ),
        soap_result("0000", f"<datosPersona>{PERSONA}</datosPersona>").replace(
            b"</return>", b"</return><version>2</version>"
        ),
        soap_result("0000", f"<datosPersona>{PERSONA}</datosPersona>").replace(
            b"<S:Body>", b'<S:Header><h:traza xmlns:h="urn:pide">abc</h:traza></S:Header><S:Body>'
        ),
    ],
    ids=[
        "in-return",
        "nested-in-datosPersona",
        "namespaced",
        "after-datosPersona",
        "reordered",
        "in-the-wrapper",
        "soap-header",
    ],
)
async def test_unknown_elements_anywhere_are_ignored(rig: Rig, body: bytes) -> None:
    rig.server.body = body
    person = await rig.adapter.person(MOTHER)
    assert (person.first_surname, person.second_surname, person.given_names) == (
        "QUISPE",
        "MAMANI",
        "ROSA",
    )
    assert (person.address, person.place_name, person.restriction) == (
        "JR. A 1",
        "LIMA/LIMA/LIMA",
        "FALLECIMIENTO",
    )


async def test_field_case_03_latin1_names_and_nil_are_read(rig: Rig) -> None:
    persona = (
        "<datosPersona><apPrimer>PEÑA</apPrimer><apSegundo>D'ANGELO</apSegundo>"
        "<prenombres>MARÍA JOSÉ</prenombres><direccion>AV. ÑAÑA 5</direccion>"
        "</datosPersona>"
    )
    rig.server.body = (
        soap_result("0000", persona)
        .decode()
        .replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
        .encode("iso-8859-1")
    )
    rig.server.content_type = "text/xml; charset=ISO-8859-1"
    assert b"PE\xd1A" in rig.server.body  # really Latin-1 on the wire
    person = await rig.adapter.person(MOTHER)
    assert (person.first_surname, person.second_surname, person.given_names) == (
        "PEÑA",
        "D'ANGELO",
        "MARÍA JOSÉ",
    )
    assert person.address == "AV. ÑAÑA 5"

    rig.server.body = soap_result(
        "0000",
        '<datosPersona xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<apPrimer>QUISPE</apPrimer><apSegundo xsi:nil="true"/><prenombres>ROSA</prenombres>'
        "</datosPersona>",
    )
    person = await rig.adapter.person(MOTHER)
    assert (person.first_surname, person.second_surname, person.given_names) == (
        "QUISPE",
        "",
        "ROSA",
    )


@pytest.mark.parametrize(
    "body",
    [
        soap_result(None, f"<datosPersona>{PERSONA}</datosPersona>"),
        soap_result("", f"<datosPersona>{PERSONA}</datosPersona>"),
        soap_result("0000"),
        soap_result(
            "0000",
            '<datosPersona xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>',
        ),
        soap_result("7777", f"<datosPersona>{PERSONA}</datosPersona>"),
        soap_result("0000", "<datosPersona><estadoCivil>SOLTERO</estadoCivil></datosPersona>"),
        soap_result("0000").replace(b"consultarResponse", b"otraRespuesta"),
    ],
    ids=[
        "no-coResultado",
        "empty-coResultado",
        "0000-without-datosPersona",
        "0000-nil-datosPersona",
        "unknown-code",
        "foto-not-base64",
        "other-wrapper",
    ],
)
async def test_an_answer_missing_what_is_required_is_permanent_and_spares_the_breaker(
    rig: Rig, body: bytes
) -> None:
    rig.server.body = body
    for call in range(5):  # more than the breaker's threshold of 3
        with pytest.raises(PartnerContractMismatch):
            await rig.adapter.person(MOTHER)
        assert len(rig.server.requests) == call + 1  # not retried
    assert rig.guard.breaker.state == "closed"
    report = rig.guard.health.report()["reniec"]["operations"]["consultar"]
    assert report["failures"] == 5  # visible to operators all the same
    # The next good answer goes through at once.
    rig.server.body = field_case("02-reniec-answer-extra-element.xml")
    assert (await rig.adapter.person(MOTHER)).first_surname == "QUISPE"


async def test_a_body_cut_in_transit_is_transient_and_retried(rig: Rig) -> None:
    whole = field_case("02-reniec-answer-extra-element.xml")
    rig.server.body = whole[: len(whole) // 2]
    with pytest.raises(PartnerMalformed) as caught:
        await rig.adapter.person(MOTHER)
    assert caught.value.transient
    assert len(rig.server.requests) == 1 + POLICY["retries"]


def soap_fault(code: str) -> bytes:
    return (
        f'<S:Envelope xmlns:S="{SOAP_NS}"><S:Body><S:Fault><faultcode>S:{code}</faultcode>'
        "<faultstring>x</faultstring></S:Fault></S:Body></S:Envelope>"
    ).encode()


async def test_a_client_fault_is_permanent_and_a_server_fault_transient(rig: Rig) -> None:
    rig.server.status, rig.server.body = 500, soap_fault("Client")
    with pytest.raises(PartnerContractMismatch):
        await rig.adapter.person(MOTHER)
    assert len(rig.server.requests) == 1  # RENIEC did not understand: asking again won't help
    rig.server.body = soap_fault("Server")
    with pytest.raises(PartnerUnavailable):
        await rig.adapter.person(MOTHER)
    assert len(rig.server.requests) == 1 + 1 + POLICY["retries"]
    assert rig.guard.breaker.state == "open"  # three transient failures in a row


@pytest.mark.parametrize(
    ("code", "error"),
    [("0999", PartnerNotFound), ("0001", PartnerNotFound), ("1000", PartnerInvalidInput)],
)
async def test_definite_codes_with_unknown_elements_keep_their_meaning(
    rig: Rig, code: str, error: type[Exception]
) -> None:
    rig.server.body = soap_result(code, "<feConsulta>2026-12-01</feConsulta>")
    with pytest.raises(error):
        await rig.adapter.person(MOTHER)
    assert len(rig.server.requests) == 1


# ---------------------------------------------------------------- renewal through the gateway


async def _expire(mocks: Mocks, dni: str = "40000001") -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{mocks.urls['reniec']}/_admin/credentials/{dni}/expire")
        assert response.status_code == 200


async def _stored_secret(app: FastAPI) -> str:
    state: AppState = app.state.gateway
    async with transaction(state.sessions) as session:
        row = await session.get(PartnerCredential, "reniec")
        assert row is not None
        sealed = row.secret_sealed
    return state.keyring.decrypt(sealed, credential_aad("reniec")).decode()


async def test_a_renewal_ends_a_run_of_1002_and_is_used_from_then_on(
    app: FastAPI,
    http: httpx.AsyncClient,
    settings: Settings,
    mocks: Mocks,
    consumer: dict[str, str],
    get_token: GetToken,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    h = mocks.adult()
    person = f"/v1/persons/{h.mother.dni}"
    await _expire(mocks)
    for _ in range(3):
        expired = await http.get(person, headers=consumer | purpose("affiliation"))
        assert expired.status_code == 502
        assert expired.json()["type"] == "/problems/partner-refused"
        assert "1002" in expired.json()["detail"]

    auditor = bearer(await get_token(["auditor"]))
    denied = await http.post("/v1/partners/reniec/credential-renewals", headers=auditor)
    assert denied.status_code == 403
    admin = bearer(await get_token(["admin"]))
    missing = await http.post("/v1/partners/nobody/credential-renewals", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    renewed = await http.post("/v1/partners/reniec/credential-renewals", headers=admin)
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["partner"] == "reniec"
    secret = await _stored_secret(app)
    assert secret not in renewed.text

    ok = await http.get(person, headers=consumer | purpose("affiliation"))
    assert ok.status_code == 200, ok.text
    # The credential is in no log line of the gateway's, its own or its libraries'.
    logged = caplog.text + "".join(capsys.readouterr())
    assert "credential renewed" in logged
    assert secret not in logged
    assert "juntos-sandbox" not in logged

    # At RENIEC, the old password is refused now and the stored one works.
    def at_reniec() -> tuple[str, str]:
        client = suds_client(mocks.urls["reniec"])
        return (
            suds_consultar(client, h.mother.dni).coResultado,
            suds_consultar(client, h.mother.dni, password=secret).coResultado,
        )

    assert await asyncio.to_thread(at_reniec) == ("1001", "0000")

    # Another gateway process on the same database uses the stored credential.
    other = gateway_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as second:
            answer = await second.get(person, headers=consumer | purpose("affiliation"))
            assert answer.status_code == 200, answer.text

    # Audited: who and what, never the credential.
    state: AppState = app.state.gateway
    await asyncio.sleep(0)
    async with transaction(state.sessions) as session:
        rows = (
            await session.execute(
                text(
                    "SELECT client_id, outcome, body FROM audit_events "
                    "WHERE service = 'partners.credential-renewal'"
                )
            )
        ).all()
        sealed = (await session.execute(select(PartnerCredential.secret_sealed))).scalar_one()
    assert len(rows) == 1
    client_id, outcome, body = rows[0]
    assert outcome == "ok"
    assert client_id
    assert '"actualizarcredencial"' in body
    assert secret not in body
    assert "juntos-sandbox" not in body
    assert secret.encode() not in sealed


async def test_the_operator_command_renews_and_a_running_gateway_follows(
    app: FastAPI,
    http: httpx.AsyncClient,
    settings: Settings,
    mocks: Mocks,
    consumer: dict[str, str],
) -> None:
    h = mocks.adult()
    person = f"/v1/persons/{h.mother.dni}"
    assert (await http.get(person, headers=consumer | purpose("affiliation"))).status_code == 200
    await _expire(mocks)
    expired = await http.get(person, headers=consumer | purpose("affiliation"))
    assert "1002" in expired.json()["detail"]

    env = env_for(settings) | {"GATEWAY_PARTNERS__RENIEC__BASE_URL": mocks.urls["reniec"]}
    result = await invoke_async(["partners", "reniec", "renew-credential"], env=env)
    assert result.exit_code == 0, result.output
    assert "renewed" in result.output
    secret = await _stored_secret(app)
    assert secret not in result.output

    # The running gateway holds the old password: refused once, it reads the store.
    ok = await http.get(person, headers=consumer | purpose("affiliation"))
    assert ok.status_code == 200, ok.text

    # Run again, it renews again: the password in force is the stored one.
    again = await invoke_async(["partners", "reniec", "renew-credential"], env=env)
    assert again.exit_code == 0, again.output
    assert await _stored_secret(app) != secret
    assert (await http.get(person, headers=consumer | purpose("affiliation"))).status_code == 200


async def test_another_process_picks_up_a_renewal_on_its_next_refusal(
    app: FastAPI, settings: Settings, mocks: Mocks
) -> None:
    """Process A renews; process B, which read no stored credential yet and holds the
    configured one, is refused with 1001 once and retries with the stored one."""
    state: AppState = app.state.gateway
    other = AppState.build(settings, state.catalog)
    try:
        async with transaction(other.sessions) as session:
            await other.keyring.load(session)
        adapter_b = other.partners.credentials["reniec"]
        h = mocks.adult()
        assert isinstance(adapter_b, ReniecAdapter)
        assert (await adapter_b.person(h.mother.dni)).dni == h.mother.dni
        await state.credentials.renew(
            state.partners.credentials["reniec"], Actor(request_id="test-renewal")
        )
        assert (await adapter_b.person(h.mother.dni)).dni == h.mother.dni
    finally:
        await other.aclose()


async def test_a_refused_renewal_keeps_the_credential_and_is_audited(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, get_token: GetToken
) -> None:
    state: AppState = app.state.gateway
    adapter = state.partners.credentials["reniec"]
    with pytest.raises(PartnerInvalidInput):  # 1000: RENIEC refuses so short a password
        await adapter.renew_credential("short")

    # The password was changed outside the gateway: RENIEC refuses the renewal (1001).
    await asyncio.to_thread(
        suds_renew, suds_client(mocks.urls["reniec"]), "40000001", "juntos-sandbox", "elsewhere-1"
    )
    admin = bearer(await get_token(["admin"]))
    refused = await http.post("/v1/partners/reniec/credential-renewals", headers=admin)
    assert refused.status_code == 502
    assert refused.json()["type"] == "/problems/partner-refused"
    assert "1001" in refused.json()["detail"]
    async with transaction(state.sessions) as session:
        assert await session.get(PartnerCredential, "reniec") is None
        outcomes = (
            (
                await session.execute(
                    text(
                        "SELECT outcome FROM audit_events "
                        "WHERE service = 'partners.credential-renewal'"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert outcomes == ["partner-refused"]


async def test_the_stored_credential_follows_data_key_rotation(
    app: FastAPI,
    http: httpx.AsyncClient,
    settings: Settings,
    mocks: Mocks,
    consumer: dict[str, str],
) -> None:
    state: AppState = app.state.gateway
    await state.credentials.renew(state.partners.credentials["reniec"], Actor(request_id="t"))
    secret = await _stored_secret(app)
    async with transaction(state.sessions) as session:
        old_blob = (await session.get(PartnerCredential, "reniec")).secret_sealed  # type: ignore[union-attr]

    assert (await invoke_async(["keys", "rotate-data"], env_for(settings))).exit_code == 0
    result = await invoke_async(["keys", "reencrypt", "--json"], env_for(settings))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["reencrypted"]["partner_credentials"] == 1

    async with transaction(state.sessions) as session:
        await state.keyring.load(session)
    async with transaction(state.sessions) as session:
        new_blob = (await session.get(PartnerCredential, "reniec")).secret_sealed  # type: ignore[union-attr]
    assert state.keyring.key_id_of(new_blob) != state.keyring.key_id_of(old_blob)
    assert await _stored_secret(app) == secret
    # A gateway process started now reads it under the new key and is answered.
    other = gateway_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as second:
            h = mocks.adult()
            answer = await second.get(
                f"/v1/persons/{h.mother.dni}", headers=consumer | purpose("affiliation")
            )
            assert answer.status_code == 200, answer.text


async def test_the_padron_extract_shares_the_renewed_credential(app: FastAPI, mocks: Mocks) -> None:
    """The newborn extract authenticates with the same password: expired, it is refused;
    renewed through actualizarcredencial, it pages again."""
    state: AppState = app.state.gateway
    adapter = state.partners.credentials["reniec"]
    assert isinstance(adapter, ReniecAdapter)
    window = ([], date(2020, 3, 1), date(2020, 3, 31), None, 10)
    await _expire(mocks)
    with pytest.raises(PartnerRefused):
        await adapter.newborns(*window)
    await state.credentials.renew(adapter, Actor(request_id="t"))
    page = await adapter.newborns(*window)
    assert len(page.items) == 10
