"""How the RENIEC adapter maps what goes wrong to typed partner errors, on an
``httpx.MockTransport`` (no server): ``consultar`` (SOAP, the compiled exchange),
``actualizarcredencial`` (SOAP through zeep) and the Padrón extract (REST). Each PIDE
result code, SOAP fault, HTTP status, transport failure and malformed body gives the
typed error expected."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import httpx
import pytest

from adapters.reniec.client import CredentialRefused, ReniecAdapter
from adapters.reniec.mock import NS, SOAP_NS
from adapters.reniec.settings import ReniecSettings
from gateway.partners.errors import (
    PartnerContractMismatch,
    PartnerError,
    PartnerInvalidInput,
    PartnerMalformed,
    PartnerNotFound,
    PartnerRefused,
    PartnerUnavailable,
)
from gateway.settings import REPO_ROOT
from tests.fixtures.transport import (
    ONCE,
    STATUS_ERRORS,
    TRANSPORT_FAILURES,
    Handler,
    Partner,
    guard,
    json_body,
    partner_error,
    status,
)

DNI = "10000001"
XML = {"content-type": "text/xml; charset=utf-8"}

Call = Callable[[ReniecAdapter], Awaitable[object]]
OPERATIONS: dict[str, Call] = {
    "consultar": lambda a: a.person(DNI),
    "actualizarcredencial": lambda a: a.renew_credential("new-secret-0001"),
    "padron-extract": lambda a: a.newborns(
        ["150101"], date(2020, 1, 1), date(2020, 1, 31), None, 5
    ),
}


def envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="{SOAP_NS}">'
        f"<S:Body>{body}</S:Body></S:Envelope>"
    ).encode()


def soap(code_status: int, body: bytes) -> Handler:
    return lambda request: httpx.Response(code_status, content=body, headers=XML)


def coded(code: str, operation: str = "consultar", children: str = "") -> Handler:
    return soap(
        200,
        envelope(
            f'<ns2:{operation}Response xmlns:ns2="{NS}"><return><coResultado>{code}</coResultado>'
            f"<deResultado>X</deResultado>{children}</return></ns2:{operation}Response>"
        ),
    )


def fault(code: str) -> Handler:
    return soap(
        500,
        envelope(f"<S:Fault><faultcode>{code}</faultcode><faultstring>x</faultstring></S:Fault>"),
    )


async def call(handler: Handler, operation: str) -> object:
    partner = Partner(handler)
    settings = ReniecSettings.model_validate(ONCE)
    async with partner.client() as http:
        adapter = ReniecAdapter(settings, http, guard("reniec", settings), REPO_ROOT / "contracts")
        return await OPERATIONS[operation](adapter)


async def error_of(handler: Handler, operation: str) -> PartnerError:
    return await partner_error(call(handler, operation), "reniec", operation)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    ("handler", "expected"),
    [(h, e) for _, h, e in TRANSPORT_FAILURES],
    ids=[name for name, _, _ in TRANSPORT_FAILURES],
)
async def test_transport_failures(
    operation: str, handler: Handler, expected: type[PartnerError]
) -> None:
    assert type(await error_of(handler, operation)) is expected


RESULT_CODES: list[tuple[str, type[PartnerError]]] = [
    ("0001", PartnerNotFound),
    ("0999", PartnerNotFound),
    ("1000", PartnerInvalidInput),
    ("1001", CredentialRefused),
    ("1002", CredentialRefused),
    ("1003", PartnerRefused),
    ("7777", PartnerContractMismatch),
]


@pytest.mark.parametrize("operation", ["consultar", "actualizarcredencial"])
@pytest.mark.parametrize(("code", "expected"), RESULT_CODES, ids=[c for c, _ in RESULT_CODES])
async def test_result_codes(operation: str, code: str, expected: type[PartnerError]) -> None:
    error = await error_of(coded(code, operation), operation)
    assert type(error) is expected
    if code == "1003":
        assert isinstance(error, PartnerRefused)
        assert error.retry_after is not None
        assert error.retry_after > 0


SOAP_FAILURES: list[tuple[str, Handler, type[PartnerError]]] = [
    ("client-fault", fault("S:Client"), PartnerContractMismatch),
    ("server-fault", fault("S:Server"), PartnerUnavailable),
    ("error-page", status(503, b"<html>down</html>"), PartnerUnavailable),
    ("empty-error", lambda request: httpx.Response(500), PartnerUnavailable),
    ("cut", soap(200, envelope("<ns2:consultarResponse")[:-40]), PartnerMalformed),
    (
        "dtd",
        soap(200, b'<!DOCTYPE x [<!ENTITY e "e">]>' + envelope("")[38:]),
        PartnerMalformed,
    ),
    ("no-result-code", soap(200, envelope(f'<ns2:r xmlns:ns2="{NS}"/>')), PartnerContractMismatch),
]


@pytest.mark.parametrize(
    ("handler", "expected"),
    [(h, e) for _, h, e in SOAP_FAILURES],
    ids=[name for name, _, _ in SOAP_FAILURES],
)
async def test_consultar_soap_failures(handler: Handler, expected: type[PartnerError]) -> None:
    assert type(await error_of(handler, "consultar")) is expected


async def test_consultar_success_without_a_person_breaks_the_contract() -> None:
    assert type(await error_of(coded("0000"), "consultar")) is PartnerContractMismatch


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (fault("S:Server"), PartnerUnavailable),
        (fault("S:Client"), PartnerContractMismatch),
        (status(502, b"<html>bad gateway</html>"), PartnerUnavailable),
        (soap(200, envelope("<ns2:actualizarcredencialResponse")[:-40]), PartnerMalformed),
    ],
    ids=["server-fault", "client-fault", "error-page", "cut"],
)
async def test_renewal_soap_failures(handler: Handler, expected: type[PartnerError]) -> None:
    assert type(await error_of(handler, "actualizarcredencial")) is expected


@pytest.mark.parametrize(
    ("code", "expected"), STATUS_ERRORS, ids=[str(c) for c, _ in STATUS_ERRORS]
)
async def test_extract_statuses(code: int, expected: type[PartnerError]) -> None:
    error = await error_of(status(code), "padron-extract")
    assert type(error) is expected
    assert error.detail == f"HTTP {code} CODIGO_X"


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (status(200, b'{"filas": [{"nuCui'), PartnerMalformed),
        (json_body([]), PartnerContractMismatch),
        (json_body({"siguiente": None}), PartnerContractMismatch),
        (json_body({"filas": [{"nuCui": "1"}], "siguiente": None}), PartnerContractMismatch),
    ],
    ids=["cut", "not-object", "no-filas", "row-lacks-fields"],
)
async def test_extract_malformed_answers(handler: Handler, expected: type[PartnerError]) -> None:
    assert type(await error_of(handler, "padron-extract")) is expected
