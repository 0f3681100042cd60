"""How the OSIPTEL adapter maps what goes wrong to typed partner errors: each transport
failure, each HTTP status and each malformed body, for both operations, on an
``httpx.MockTransport`` (no server)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from adapters.osiptel.client import OsiptelAdapter
from adapters.osiptel.settings import OsiptelSettings
from gateway.partners.errors import (
    PartnerContractMismatch,
    PartnerError,
    PartnerMalformed,
    PartnerRefused,
)
from gateway.partners.models import PhoneLine
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

DNIS = ["10000001", "10000002"]
LINE = {"numero": "987654321", "empresa": "CLARO", "modalidad": "PREPAGO"}

Call = Callable[[OsiptelAdapter], Awaitable[object]]
OPERATIONS: dict[str, Call] = {
    "lines-by-document": lambda a: a.phone_lines(DNIS[0]),
    "lines-by-documents": lambda a: a.phone_lines_many(DNIS),
}


async def call(handler: Handler, operation: str, **policy: object) -> object:
    partner = Partner(handler)
    settings = OsiptelSettings.model_validate({**ONCE, **policy})
    async with partner.client() as http:
        adapter = OsiptelAdapter(settings, http, guard("osiptel", settings))
        return await OPERATIONS[operation](adapter)


async def error_of(handler: Handler, operation: str) -> PartnerError:
    return await partner_error(call(handler, operation), "osiptel", operation)


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


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    ("code", "expected"), STATUS_ERRORS, ids=[str(c) for c, _ in STATUS_ERRORS]
)
async def test_statuses(operation: str, code: int, expected: type[PartnerError]) -> None:
    error = await error_of(status(code), operation)
    assert type(error) is expected
    assert error.detail == f"HTTP {code} CODIGO_X"


async def test_too_many_requests_says_when_to_come_back() -> None:
    error = await error_of(status(429, **{"Retry-After": "7"}), "lines-by-document")
    assert isinstance(error, PartnerRefused)
    assert (error.retry_after, error.status) == (7, 503)
    unsaid = await error_of(status(429), "lines-by-document")
    assert isinstance(unsaid, PartnerRefused)
    assert unsaid.retry_after == 60


MALFORMED: list[tuple[str, str, Handler, type[PartnerError]]] = [
    ("lines-by-document", "cut", status(200, b'{"lineas": [{"num'), PartnerMalformed),
    ("lines-by-document", "not-object", json_body([LINE]), PartnerContractMismatch),
    ("lines-by-document", "no-lineas", json_body({}), PartnerContractMismatch),
    ("lines-by-document", "lineas-not-list", json_body({"lineas": {}}), PartnerContractMismatch),
    (
        "lines-by-document",
        "line-lacks-field",
        json_body({"lineas": [{"numero": "9"}]}),
        PartnerMalformed,
    ),
    ("lines-by-document", "line-not-object", json_body({"lineas": ["9"]}), PartnerMalformed),
    ("lines-by-documents", "cut", status(200, b'{"resultados'), PartnerMalformed),
    ("lines-by-documents", "no-resultados", json_body({"lineas": []}), PartnerContractMismatch),
    (
        "lines-by-documents",
        "result-lacks-lineas",
        json_body({"resultados": [{"numeroDocumento": d} for d in DNIS]}),
        PartnerMalformed,
    ),
    (
        "lines-by-documents",
        "other-documents",
        json_body({"resultados": [{"numeroDocumento": d, "lineas": []} for d in DNIS[::-1]]}),
        PartnerMalformed,
    ),
    (
        "lines-by-documents",
        "fewer-documents",
        json_body({"resultados": [{"numeroDocumento": DNIS[0], "lineas": []}]}),
        PartnerMalformed,
    ),
]


@pytest.mark.parametrize(
    ("operation", "handler", "expected"),
    [(o, h, e) for o, _, h, e in MALFORMED],
    ids=[f"{o}-{name}" for o, name, _, _ in MALFORMED],
)
async def test_malformed_answers(
    operation: str, handler: Handler, expected: type[PartnerError]
) -> None:
    assert type(await error_of(handler, operation)) is expected


async def test_a_good_answer_reads_as_lines() -> None:
    lines = await call(json_body({"lineas": [LINE]}), "lines-by-document")
    assert lines == [PhoneLine("987654321", "CLARO", "PREPAGO")]


async def test_only_transient_errors_are_asked_again() -> None:
    for handler, expected_requests in ((status(503), 3), (status(404), 1), (status(400), 1)):
        partner = Partner(handler)
        settings = OsiptelSettings.model_validate({**ONCE, "retries": 2})
        async with partner.client() as http:
            adapter = OsiptelAdapter(settings, http, guard("osiptel", settings))
            with pytest.raises(PartnerError):
                await adapter.phone_lines(DNIS[0])
        assert len(partner.requests) == expected_requests
