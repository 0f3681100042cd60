"""How the Banco de la Nación adapter maps what goes wrong to typed partner errors: each
transport failure, each HTTP status and each malformed body, for every operation
(JSON accounts, ISO 20022 payments), on an ``httpx.MockTransport`` (no server)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import pytest

from adapters.bn.client import BankAdapter
from adapters.bn.settings import BankSettings
from gateway.partners.errors import PartnerContractMismatch, PartnerError, PartnerMalformed
from gateway.partners.models import Account, OpeningRefused
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
ACCOUNT = {
    "numeroDocumento": DNI,
    "numeroCuenta": "412345678901",
    "cci": "01800141234567890123",
    "estado": "ACTIVA",
    "fechaApertura": "2021-03-01T09:00:00+00:00",
}

CARDS_HEADER = b"numeroDocumento,numeroCuenta,fechaEntrega\n"

Call = Callable[[BankAdapter], Awaitable[object]]
OPERATIONS: dict[str, Call] = {
    "open-account": lambda a: a.open_account(DNI, None, "req-0001"),
    "open-accounts": lambda a: a.open_accounts([(DNI, None)], "req-0002"),
    "account-by-dni": lambda a: a.account(DNI),
    "pain.001": lambda a: a.submit_payments(b"<Document/>"),
    "camt.054": lambda a: a.settled_payments(["MSG-1"]),
    "card-deliveries": lambda a: a.card_deliveries(date(2021, 1, 1), date(2021, 1, 31), None, 100),
}


async def call(handler: Handler, operation: str) -> object:
    partner = Partner(handler)
    settings = BankSettings.model_validate(ONCE)
    async with partner.client() as http:
        adapter = BankAdapter(settings, http, guard("bn", settings))
        return await OPERATIONS[operation](adapter)


async def error_of(handler: Handler, operation: str) -> PartnerError:
    return await partner_error(call(handler, operation), "bn", operation)


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


def opened(*results: object) -> Handler:
    return json_body({"resultados": list(results)})


MALFORMED: list[tuple[str, str, Handler, type[PartnerError]]] = [
    ("open-account", "cut", status(201, b'{"numeroCuenta": "4'), PartnerMalformed),
    ("open-account", "not-object", json_body([ACCOUNT]), PartnerContractMismatch),
    (
        "open-account",
        "lacks-cci",
        json_body({k: v for k, v in ACCOUNT.items() if k != "cci"}),
        PartnerMalformed,
    ),
    (
        "open-account",
        "bad-date",
        json_body({**ACCOUNT, "fechaApertura": "01/03/2021"}),
        PartnerMalformed,
    ),
    ("account-by-dni", "lacks-number", json_body({"numeroDocumento": DNI}), PartnerMalformed),
    ("open-accounts", "no-resultados", json_body({}), PartnerMalformed),
    ("open-accounts", "more-results", opened({}, {}), PartnerMalformed),
    ("open-accounts", "result-without-status", opened({"cuenta": ACCOUNT}), PartnerMalformed),
    ("open-accounts", "refusal-without-error", opened({"estadoApertura": 422}), PartnerMalformed),
    (
        "open-accounts",
        "account-lacks-field",
        opened({"estadoApertura": 201, "cuenta": {"numeroDocumento": DNI}}),
        PartnerMalformed,
    ),
    ("pain.001", "not-xml", status(200, b"<Document><Cstmr"), PartnerMalformed),
    ("pain.001", "not-a-pain002", status(200, b"<Document/>"), PartnerMalformed),
    ("camt.054", "not-xml", status(200, b"{}"), PartnerMalformed),
    ("camt.054", "not-a-camt054", status(200, b"<Document/>"), PartnerMalformed),
    (
        "card-deliveries",
        "no-header",
        status(200, b"45123456,412345678901,2021-01-14\n"),
        PartnerMalformed,
    ),
    (
        "card-deliveries",
        "bad-date",
        status(200, CARDS_HEADER + b"45123456,412345678901,14/01/2021\n"),
        PartnerMalformed,
    ),
    (
        "card-deliveries",
        "short-line",
        status(200, CARDS_HEADER + b"45123456,412345678901\n"),
        PartnerMalformed,
    ),
    (
        "card-deliveries",
        "bad-dni",
        status(200, CARDS_HEADER + b"4512345,412345678901,2021-01-14\n"),
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


async def test_an_opening_refused_by_the_bank_is_a_result_not_an_error() -> None:
    partner = Partner(
        opened(
            {"estadoApertura": 201, "cuenta": ACCOUNT},
            {"estadoApertura": 422, "error": {"codigo": "TITULAR_FALLECIDO"}},
        )
    )
    settings = BankSettings.model_validate(ONCE)
    async with partner.client() as http:
        adapter = BankAdapter(settings, http, guard("bn", settings))
        results = await adapter.open_accounts([(DNI, None), ("10000002", None)], "req-0003")
    assert isinstance(results[0], Account)
    assert results[0].newly_opened
    assert results[1] == OpeningRefused(422, "TITULAR_FALLECIDO")
