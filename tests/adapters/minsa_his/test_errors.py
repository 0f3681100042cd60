"""How the MINSA HIS adapter maps what goes wrong to typed partner errors: each transport
failure, each HTTP status and each malformed body, for its three operations, on an
``httpx.MockTransport`` (no server)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import pytest

from adapters.minsa_his.client import HisAdapter
from adapters.minsa_his.settings import HisSettings
from gateway.partners.errors import PartnerContractMismatch, PartnerError, PartnerMalformed
from gateway.partners.models import HealthHistory
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

CUIS = ["80000001", "80000002"]
ROW = {
    "Id_Cita": "C1",
    "Fecha_Atencion": "2020-06-01",
    "Id_Establecimiento": "E1",
    "Id_Paciente": CUIS[0],
    "Codigo_Item": "99381",
    "Tipo_Diagnostico": "D",
    "Valor_Lab": "1",
    "Edad_Reg": 2,
    "Tipo_Edad": "M",
    "Peso": 5.1,
    "Talla": None,
    "Hemoglobina": None,
}
PATIENT = {"Id_Paciente": CUIS[0], "Fecha_Nacimiento": "2020-04-01", "atenciones": [ROW]}

Call = Callable[[HisAdapter], Awaitable[object]]
OPERATIONS: dict[str, Call] = {
    "records-by-patient": lambda a: a.health_history(CUIS[0]),
    "records-by-patients": lambda a: a.health_histories(CUIS),
    "records-extract": lambda a: a.records_extract(date(2020, 1, 1), date(2020, 12, 31), None, 10),
}


async def call(handler: Handler, operation: str) -> object:
    partner = Partner(handler)
    settings = HisSettings.model_validate(ONCE)
    async with partner.client() as http:
        adapter = HisAdapter(settings, http, guard("minsa_his", settings))
        return await OPERATIONS[operation](adapter)


async def error_of(handler: Handler, operation: str) -> PartnerError:
    return await partner_error(call(handler, operation), "minsa_his", operation)


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


def patients(*entries: dict[str, object]) -> Handler:
    return json_body({"pacientes": list(entries)})


MALFORMED: list[tuple[str, str, Handler, type[PartnerError]]] = [
    ("records-by-patient", "cut", status(200, b'{"atenciones": ['), PartnerMalformed),
    ("records-by-patient", "not-object", json_body([ROW]), PartnerContractMismatch),
    (
        "records-by-patient",
        "no-atenciones",
        json_body({"Fecha_Nacimiento": "2020-04-01"}),
        PartnerContractMismatch,
    ),
    (
        "records-by-patient",
        "no-birth-date",
        json_body({"atenciones": [ROW]}),
        PartnerContractMismatch,
    ),
    (
        "records-by-patient",
        "row-lacks-field",
        json_body({**PATIENT, "atenciones": [{"Id_Cita": "C1"}]}),
        PartnerMalformed,
    ),
    (
        "records-by-patient",
        "bad-date",
        json_body({**PATIENT, "atenciones": [{**ROW, "Fecha_Atencion": "01/06/2020"}]}),
        PartnerMalformed,
    ),
    ("records-by-patients", "cut", status(200, b'{"pacientes'), PartnerMalformed),
    ("records-by-patients", "no-pacientes", json_body({}), PartnerContractMismatch),
    (
        "records-by-patients",
        "other-patients",
        patients(
            {"Id_Paciente": CUIS[1], "encontrado": False},
            {"Id_Paciente": CUIS[0], "encontrado": False},
        ),
        PartnerMalformed,
    ),
    (
        "records-by-patients",
        "lacks-encontrado",
        patients({"Id_Paciente": CUIS[0]}, {"Id_Paciente": CUIS[1]}),
        PartnerMalformed,
    ),
    ("records-extract", "cut", status(200, b'{"atenciones": [{'), PartnerMalformed),
    ("records-extract", "no-atenciones", json_body({"siguiente": None}), PartnerContractMismatch),
    (
        "records-extract",
        "row-lacks-field",
        json_body({"atenciones": [{"Id_Paciente": CUIS[0]}]}),
        PartnerMalformed,
    ),
    (
        "records-extract",
        "cursor-not-text",
        json_body({"atenciones": [ROW], "siguiente": 5}),
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


async def test_good_answers_read_as_histories() -> None:
    history = await call(json_body(PATIENT), "records-by-patient")
    assert isinstance(history, HealthHistory)
    assert [s.item_code for s in history.services] == ["99381"]
    both = await call(
        patients({"encontrado": True, **PATIENT}, {"Id_Paciente": CUIS[1], "encontrado": False}),
        "records-by-patients",
    )
    assert isinstance(both, list)
    assert both[1] is None
