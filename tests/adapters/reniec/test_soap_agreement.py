"""The compiled ``consultar`` exchange against zeep, the contract's reader.

The adapter renders ``consultar`` envelopes from a template compiled from the WSDL and
reads the answers with lxml. Here zeep, loading the same WSDL, is the reference: the
envelope must be the one zeep builds (canonical XML, same HTTP headers) and valid
against the XSD, and every answer (each result code, nil fields, undeclared elements at
any depth, ISO-8859-1, SOAP faults, malformed XML, missing elements) must give the same
person or the same typed error from both readers, fed the same bytes.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import xmlschema
from lxml import etree
from prometheus_client import CollectorRegistry

from adapters.reniec.client import (
    ReniecAdapter,
    _result_code,
    _unwrap,
    result_error,
)
from adapters.reniec.mock import CONTRACTS, NS, SOAP_NS
from adapters.reniec.settings import ReniecSettings
from adapters.xml import UnsafeXmlError, parse_xml
from gateway.partners.errors import (
    PartnerContractMismatch,
    PartnerError,
    PartnerMalformed,
    PartnerUnavailable,
)
from gateway.partners.health import PartnerHealth
from gateway.partners.models import Person
from gateway.partners.resilience import PartnerGuard

REPO = Path(__file__).resolve().parents[3]
FIELD_CASES = REPO.parent / "shared" / "field-cases"
DNI = "60542601"
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
PERSONA = (
    "<apPrimer>QUISPE</apPrimer><apSegundo>MAMANI</apSegundo><direccion>JR. A 1</direccion>"
    "<estadoCivil>SOLTERO</estadoCivil><prenombres>ROSA</prenombres>"
    "<restriccion>FALLECIMIENTO</restriccion><ubigeo>LIMA/LIMA/LIMA</ubigeo>"
)
PHOTO = base64.b64encode(b"\xff\xd8\xff\xe0 jpeg").decode()


@pytest.fixture
async def adapter() -> AsyncIterator[ReniecAdapter]:
    async with httpx.AsyncClient() as http:
        settings = ReniecSettings(base_url="http://127.0.0.1:9")
        guard = PartnerGuard("reniec", settings, PartnerHealth(CollectorRegistry()))
        yield ReniecAdapter(settings, http, guard, REPO / "contracts")


def envelope(body: str, *, header: str = "", declaration: str = "UTF-8") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{declaration}"?><S:Envelope xmlns:S="{SOAP_NS}">'
        f"{header}<S:Body>{body}</S:Body></S:Envelope>"
    ).encode("iso-8859-1" if declaration == "ISO-8859-1" else "utf-8")


def answer(inside: str, wrapper_extra: str = "") -> bytes:
    return envelope(
        f'<ns2:consultarResponse xmlns:ns2="{NS}"><return>{inside}</return>{wrapper_extra}'
        "</ns2:consultarResponse>"
    )


def coded(code: str, children: str = "") -> bytes:
    return answer(f"<coResultado>{code}</coResultado><deResultado>X</deResultado>{children}")


def fault(code: str | None) -> bytes:
    faultcode = f"<faultcode>{code}</faultcode>" if code is not None else ""
    return envelope(f"<S:Fault>{faultcode}<faultstring>x</faultstring></S:Fault>")


LATIN1 = envelope(
    f'<ns2:consultarResponse xmlns:ns2="{NS}"><return><coResultado>0000</coResultado>'
    "<datosPersona><apPrimer>PEÑA</apPrimer><apSegundo>D'ANGELO</apSegundo>"
    "<prenombres>MARÍA JOSÉ</prenombres><direccion>AV. ÑAÑA 5</direccion></datosPersona>"
    "</return></ns2:consultarResponse>",
    declaration="ISO-8859-1",
)

ANSWERS: dict[str, tuple[int, bytes]] = {
    # result codes
    **{f"code-{c}": (200, coded(c)) for c in ("0001", "0999", "1000", "1001", "1002", "1003")},
    "code-0000": (200, coded("0000", f"<datosPersona>{PERSONA}</datosPersona>")),
    "code-0000-photo": (
        200,
        coded("0000", f"<datosPersona>{PERSONA}<foto>{PHOTO}</foto></datosPersona>"),
    ),
    "code-0000-photo-wrapped": (
        200,
        coded(
            "0000", f"<datosPersona>{PERSONA}<foto>\n{PHOTO[:8]}\n{PHOTO[8:]}</foto></datosPersona>"
        ),
    ),
    "code-0000-photo-empty": (200, coded("0000", f"<datosPersona>{PERSONA}<foto/></datosPersona>")),
    "code-0000-photo-not-base64": (
        200,
        coded("0000", f"<datosPersona>{PERSONA}<foto>abc</foto></datosPersona>"),
    ),
    "code-0000-padded": (200, coded(" 0000 ", f"<datosPersona>{PERSONA}</datosPersona>")),
    "code-unknown": (200, coded("7777", f"<datosPersona>{PERSONA}</datosPersona>")),
    "code-empty": (200, coded("", f"<datosPersona>{PERSONA}</datosPersona>")),
    "code-blank": (200, coded("  ", f"<datosPersona>{PERSONA}</datosPersona>")),
    "code-missing": (
        200,
        answer(f"<deResultado>X</deResultado><datosPersona>{PERSONA}</datosPersona>"),
    ),
    "0000-without-datosPersona": (200, coded("0000")),
    "0000-datosPersona-empty": (200, coded("0000", "<datosPersona/>")),
    "0000-datosPersona-nameless": (
        200,
        coded("0000", "<datosPersona><estadoCivil>SOLTERO</estadoCivil></datosPersona>"),
    ),
    "0000-only-prenombres": (
        200,
        coded("0000", "<datosPersona><prenombres>ROSA</prenombres></datosPersona>"),
    ),
    # nil
    "nil-apSegundo": (
        200,
        coded(
            "0000",
            f'<datosPersona {XSI}><apPrimer>QUISPE</apPrimer><apSegundo xsi:nil="true"/>'
            "<prenombres>ROSA</prenombres></datosPersona>",
        ),
    ),
    "nil-apPrimer": (
        200,
        coded(
            "0000",
            f'<datosPersona {XSI}><apPrimer xsi:nil="true"/><prenombres>ROSA</prenombres>'
            "</datosPersona>",
        ),
    ),
    "nil-all-names": (
        200,
        coded(
            "0000",
            f'<datosPersona {XSI}><apPrimer xsi:nil="true"/><prenombres xsi:nil="1"/>'
            "</datosPersona>",
        ),
    ),
    "nil-datosPersona": (200, coded("0000", f'<datosPersona {XSI} xsi:nil="true"/>')),
    "nil-coResultado": (
        200,
        answer(f'<coResultado {XSI} xsi:nil="true"/><datosPersona>{PERSONA}</datosPersona>'),
    ),
    # undeclared elements, at any depth
    "unknown-in-return": (
        200,
        coded("0000", f"<feConsulta>2026</feConsulta><datosPersona>{PERSONA}</datosPersona>"),
    ),
    "unknown-nested-in-datosPersona": (
        200,
        coded("0000", f"<datosPersona>{PERSONA}<x><y>1</y><z/></x></datosPersona>"),
    ),
    "unknown-namespaced": (
        200,
        coded("0000", f'<datosPersona><n:sexo xmlns:n="urn:x">F</n:sexo>{PERSONA}</datosPersona>'),
    ),
    "unknown-namespaced-same-name": (
        200,
        coded(
            "0000",
            f'<datosPersona><n:apPrimer xmlns:n="urn:x">OTRO</n:apPrimer>{PERSONA}</datosPersona>',
        ),
    ),
    "unknown-after-datosPersona": (
        200,
        coded("0000", f"<datosPersona>{PERSONA}</datosPersona><trazabilidad>1</trazabilidad>"),
    ),
    "unknown-before-coResultado": (
        200,
        answer(
            f"<traza><a>1</a></traza><coResultado>0000</coResultado><datosPersona>{PERSONA}</datosPersona>"
        ),
    ),
    "reordered": (
        200,
        answer(
            f"<datosPersona>{PERSONA[::-1][::-1]}</datosPersona><deResultado>X</deResultado>"
            "<coResultado>0000</coResultado>"
        ),
    ),
    "unknown-in-the-wrapper": (
        200,
        coded("0000", f"<datosPersona>{PERSONA}</datosPersona>").replace(
            b"</return>", b"</return><version>2</version>"
        ),
    ),
    "unknown-in-body": (
        200,
        coded("0000", f"<datosPersona>{PERSONA}</datosPersona>").replace(
            b"<S:Body>", b'<S:Body><m:meta xmlns:m="urn:m"><m:x/></m:meta>'
        ),
    ),
    "soap-header": (
        200,
        coded("0000", f"<datosPersona>{PERSONA}</datosPersona>").replace(
            b"<S:Body>", b'<S:Header><h:traza xmlns:h="urn:pide">abc</h:traza></S:Header><S:Body>'
        ),
    ),
    "unknown-attributes": (
        200,
        coded("0000", f'<datosPersona origen="x">{PERSONA}</datosPersona>').replace(
            b"<return>", b'<return a="1">'
        ),
    ),
    "unknown-and-nil-together": (
        200,
        coded(
            "1000",
            f'<feConsulta>2026-12-01</feConsulta><datosPersona {XSI} xsi:nil="true"/>',
        ),
    ),
    # encodings
    "iso-8859-1": (200, LATIN1),
    "entities-and-cdata": (
        200,
        coded(
            "0000",
            "<datosPersona><apPrimer>D&apos;ANGELO &amp; CIA</apPrimer>"
            "<prenombres><![CDATA[ROSA <B>]]></prenombres></datosPersona>",
        ),
    ),
    # faults
    "fault-client-500": (500, fault("S:Client")),
    "fault-server-500": (500, fault("S:Server")),
    "fault-client-200": (200, fault("S:Client")),
    "fault-server-200": (200, fault("S:Server")),
    "fault-without-code": (500, fault(None)),
    "500-not-a-fault": (500, coded("0000", f"<datosPersona>{PERSONA}</datosPersona>")),
    "500-empty": (500, b""),
    "503-html": (503, b"<html><body>Service Unavailable</html>"),
    "202-empty": (202, b""),
    # malformed or not the contract's
    "200-empty": (200, b""),
    "200-cut": (200, coded("0000", f"<datosPersona>{PERSONA}</datosPersona>")[:150]),
    "200-doctype": (
        200,
        b'<?xml version="1.0"?><!DOCTYPE S:Envelope [<!ENTITY e "x">]>'
        + coded("0000").split(b"?>", 1)[1],
    ),
    "200-html": (200, b"<html><body>maintenance</body></html>"),
    "not-an-envelope": (200, f'<ns2:consultarResponse xmlns:ns2="{NS}"/>'.encode()),
    "soap-1.2-envelope": (
        200,
        coded("0000", f"<datosPersona>{PERSONA}</datosPersona>").replace(
            SOAP_NS.encode(), b"http://www.w3.org/2003/05/soap-envelope"
        ),
    ),
    "other-wrapper": (200, coded("0000").replace(b"consultarResponse", b"otraRespuesta")),
    "wrapper-unqualified": (
        200,
        coded("0000", f"<datosPersona>{PERSONA}</datosPersona>")
        .replace(b"ns2:consultarResponse", b"consultarResponse")
        .replace(f' xmlns:ns2="{NS}"'.encode(), b""),
    ),
    "wrapper-without-return": (
        200,
        envelope(f'<ns2:consultarResponse xmlns:ns2="{NS}"/>'),
    ),
    "duplicate-names": (
        200,
        coded("0000", f"<datosPersona><apPrimer>A</apPrimer>{PERSONA}</datosPersona>"),
    ),
    "comments": (
        200,
        coded("0000", f"<!-- c --><datosPersona><!-- d -->{PERSONA}</datosPersona>").replace(
            b"<S:Body>", b"<S:Body><!-- b -->"
        ),
    ),
    "nil-return": (
        200,
        envelope(
            f'<ns2:consultarResponse xmlns:ns2="{NS}"><return {XSI} xsi:nil="true">'
            "<coResultado>0000</coResultado></return></ns2:consultarResponse>"
        ),
    ),
    "nil-with-text": (
        200,
        coded(
            "0000",
            f'<datosPersona {XSI}><apPrimer xsi:nil="true">QUISPE</apPrimer>'
            "<prenombres>ROSA</prenombres></datosPersona>",
        ),
    ),
    "500-doctype": (500, b'<!DOCTYPE x [<!ENTITY e "x">]>' + fault("S:Client").split(b"?>", 1)[1]),
    "return-qualified": (
        200,
        coded("0000", f"<datosPersona>{PERSONA}</datosPersona>")
        .replace(b"<return>", b"<ns2:return>")
        .replace(b"</return>", b"</ns2:return>"),
    ),
}


def outcome(read: Any) -> tuple[str, Any]:
    try:
        person = read()
    except PartnerError as error:
        return ("error", (type(error), error.transient, error.detail))
    assert isinstance(person, Person)
    return ("person", person)


async def zeep_outcome(adapter: ReniecAdapter, status: int, content: bytes) -> tuple[str, Any]:
    """What zeep's lenient reading made of the answer (the adapter's reading before the
    compiled exchange): the well-formedness check, zeep's reply processing and the
    adapter's error mapping, then the same projection to a person."""
    operation = "consultar"
    binding = adapter.service._binding
    client = adapter.service._client
    response = httpx.Response(status, content=content, headers={"Content-Type": "text/xml"})

    async def process() -> Any:
        if status == 200:
            try:
                parse_xml(content)
            except UnsafeXmlError:
                raise PartnerMalformed(
                    "reniec", operation, "answer is not well-formed XML"
                ) from None
        return binding.process_reply(client, binding.get(operation), response)

    def person(result: Any) -> Person:
        result = _unwrap(result)
        error = result_error(_result_code(result, operation), operation)
        if error is not None:
            raise error
        data = getattr(result, "datosPersona", None)
        if data is None or not (data.apPrimer or data.prenombres):
            raise PartnerContractMismatch("reniec", operation, "0000 without datosPersona")
        return Person(
            dni=DNI,
            first_surname=data.apPrimer or "",
            second_surname=data.apSegundo or "",
            given_names=data.prenombres or "",
            address=data.direccion or "",
            marital_status=data.estadoCivil or "",
            place_name=data.ubigeo or "",
            restriction=data.restriccion or "",
            photo=data.foto,
        )

    try:
        result = await adapter._call(operation, process)
    except PartnerError as error:
        return ("error", (type(error), error.transient, error.detail))
    return outcome(lambda: person(result))


@pytest.mark.parametrize(("status", "content"), ANSWERS.values(), ids=ANSWERS.keys())
async def test_zeep_and_the_compiled_reader_agree(
    adapter: ReniecAdapter, status: int, content: bytes
) -> None:
    fast = outcome(lambda: adapter.consultar.read(DNI, status, content))
    assert fast == await zeep_outcome(adapter, status, content)


async def test_the_corpus_reaches_every_outcome(adapter: ReniecAdapter) -> None:
    """The agreement above is not vacuous: people, photos, each typed error."""
    kinds = set()
    for status, content in ANSWERS.values():
        kind, value = outcome(lambda s=status, c=content: adapter.consultar.read(DNI, s, c))
        kinds.add(value[0].__name__ if kind == "error" else ("photo" if value.photo else kind))
    assert kinds >= {
        "person",
        "photo",
        "PartnerNotFound",
        "PartnerInvalidInput",
        "CredentialRefused",
        "PartnerRefused",
        "PartnerContractMismatch",
        "PartnerMalformed",
        "PartnerUnavailable",
    }


@pytest.mark.parametrize(
    ("status", "content", "error"),
    [
        (502, b"Bad Gateway", PartnerUnavailable),
        (200, envelope(""), PartnerContractMismatch),
        (200, b'<S:Envelope xmlns:S="' + SOAP_NS.encode() + b'"/>', PartnerContractMismatch),
    ],
    ids=["plain-text-error-page", "empty-body", "no-body"],
)
def test_answers_zeep_failed_on_get_a_typed_error(
    adapter: ReniecAdapter, status: int, content: bytes, error: type[PartnerError]
) -> None:
    """zeep's path let an untyped exception out on these; the compiled reader types them."""
    with pytest.raises(error):
        adapter.consultar.read(DNI, status, content)


async def test_latin1_names_are_read(adapter: ReniecAdapter) -> None:
    person = adapter.consultar.read(DNI, 200, LATIN1)
    assert (person.first_surname, person.given_names, person.address) == (
        "PEÑA",
        "MARÍA JOSÉ",
        "AV. ÑAÑA 5",
    )


@pytest.mark.parametrize("name", ["02-reniec-answer-extra-element.xml"], ids=["field-case-02"])
async def test_field_case_answers_agree(adapter: ReniecAdapter, name: str) -> None:
    path = FIELD_CASES / name
    if not path.is_file():
        pytest.skip(f"{path} is not there (the shared folder sits beside the clone)")
    content = path.read_bytes()
    fast = outcome(lambda: adapter.consultar.read(DNI, 200, content))
    assert fast[0] == "person"
    assert fast == await zeep_outcome(adapter, 200, content)


VALUES = [
    {
        "nuDniConsulta": DNI,
        "nuDniUsuario": "40000001",
        "nuRucUsuario": "20900000015",
        "password": "juntos-sandbox",
    },
    {
        "nuDniConsulta": DNI,
        "nuDniUsuario": "40000001",
        "nuRucUsuario": "20900000015",
        "password": "<&>\"' ñ\tx]]>",
    },
]


@pytest.mark.parametrize("values", VALUES, ids=["plain", "needs-escaping"])
def test_the_envelope_is_the_one_zeep_sends(adapter: ReniecAdapter, values: dict[str, str]) -> None:
    sent = adapter.consultar.envelope(values)
    expected, headers = adapter.service._binding._create(
        "consultar", (), {"arg0": values}, client=adapter.service._client
    )
    assert etree.tostring(etree.fromstring(sent), method="c14n") == etree.tostring(
        expected, method="c14n"
    )
    assert adapter.consultar.headers == dict(headers)
    wrapper = etree.fromstring(sent).find(f"{{{SOAP_NS}}}Body/{{{NS}}}consultar")
    assert wrapper is not None
    assert [child.tag for child in wrapper] == ["arg0"]
    xmlschema.XMLSchema(str(CONTRACTS / "consulta-dni.xsd")).validate(wrapper)
    assert {child.tag: child.text for child in wrapper[0]} == values


def test_a_value_xml_cannot_carry_is_refused(adapter: ReniecAdapter) -> None:
    values = {**VALUES[0], "password": "a\x00b"}
    with pytest.raises(ValueError, match="XML"):
        adapter.consultar.envelope(values)
    with pytest.raises(ValueError, match="XML compatible"):  # zeep (lxml) refuses it too
        adapter.service._binding._create(
            "consultar", (), {"arg0": values}, client=adapter.service._client
        )
