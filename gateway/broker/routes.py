"""Consumer endpoints. Each declares its purpose in ``X-Purpose``; the catalog decides
whether it may be served and exactly which fields the answer carries."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from gateway.auth.dependencies import Session
from gateway.broker.rules import RuleTable, period_end, verdicts
from gateway.broker.schemas import (
    AccountAnswer,
    AccountRequest,
    HealthServicesAnswer,
    IdentityVerificationAnswer,
    IdentityVerificationRequest,
    NewbornsAnswer,
    PersonAnswer,
    PhoneLinesAnswer,
    VerdictsAnswer,
)
from gateway.calls.answers import PERIOD_SCHEMA, UBIGEO_SCHEMA, documented
from gateway.calls.audited import audited_call, project
from gateway.calls.caller import Caller, Cui, Dni, IdempotencyKey
from gateway.calls.validation import (
    check_range,
    invalid,
    parse_document,
    parse_period,
    parse_ubigeos,
)
from gateway.core.errors import problem_responses
from gateway.core.i18n import N_
from gateway.core.jsonbody import JSONBodyRoute
from gateway.districts import DistrictTable
from gateway.identifiers import CalendarDate
from gateway.names import same_name
from gateway.partners.models import Account, HealthService, Person, PhoneLine
from gateway.partners.ports import Bank, CivilRegistry, HealthRegistry, TelecomRegistry

router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1",
    tags=["consumer"],
    responses=problem_responses(401, 403, 404, 422, 502, 503, 504),
)


def _person(p: Person, districts: DistrictTable) -> dict[str, Any]:
    """RENIEC's person with the district's INEI code as ``ubigeo`` when the district
    table knows the place RENIEC names (``place_name``)."""
    return replace(p, ubigeo=districts.inei_of_place(p.place_name)).as_record()


def _account(a: Account) -> dict[str, Any]:
    return a.as_record()


def _line(x: PhoneLine) -> dict[str, Any]:
    return x.as_record()


def _service(s: HealthService) -> dict[str, Any]:
    return s.as_record()


@router.get(
    "/persons/{dni}",
    response_model=PersonAnswer,
    summary="Identity of a person from RENIEC",
)
async def get_person(
    dni: Dni,
    call: Caller,
) -> JSONResponse:
    async with audited_call(call, "reniec.person", subject=("dni", dni)) as audited:
        number, _ = parse_document(dni, "path.dni")
        audited.subject("dni", number)
        person = await audited.port(CivilRegistry).person(number)
        record = _person(person, call.state.get(DistrictTable))
        return audited.answer(project(record, audited.fields))


@router.post(
    "/identity-verifications",
    response_model=IdentityVerificationAnswer,
    summary="Do the declared names match RENIEC's record? Never returns the record",
)
async def verify_identity(
    body: IdentityVerificationRequest,
    call: Caller,
) -> JSONResponse:
    async with audited_call(
        call, "reniec.identity-verification", request_body=body.model_dump(mode="json")
    ) as audited:
        number, _ = parse_document(body.dni, "body.dni")
        audited.subject("dni", number)
        person = await audited.port(CivilRegistry).person(number)
        declared = {
            "given_names": body.given_names,
            "first_surname": body.first_surname,
            "second_surname": body.second_surname,
        }
        mismatched = [
            name
            for name, value in declared.items()
            if value is not None and not same_name(value, getattr(person, name))
        ]
        result = {
            "match": not mismatched,
            "mismatched_fields": mismatched,
            # RENIEC's consultar does not return the birth date: it cannot be checked here.
            "unverified_fields": ["birth_date"] if body.birth_date else [],
        }
        return audited.answer(project(result, audited.fields))


@router.get(
    "/newborns",
    response_model=NewbornsAnswer,
    summary="Children born in a period and districts, from RENIEC (paged)",
)
async def list_newborns(
    call: Caller,
    born_from: Annotated[CalendarDate, Query(description="First birth date (YYYY-MM-DD).")],
    born_to: Annotated[CalendarDate, Query(description="Last birth date, at most 366 days later.")],
    ubigeo: Annotated[
        list[str] | None,
        Query(
            description="INEI district codes (6 digits), each known to the district table; "
            "at most 50.",
            json_schema_extra={"items": {"type": "string", **UBIGEO_SCHEMA}, "maxItems": 50},
        ),
    ] = None,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,12}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    async with audited_call(call, "reniec.newborns") as audited:
        codes = parse_ubigeos(ubigeo or [], "query.ubigeo", call.state.get(DistrictTable))
        check_range(born_from, born_to)
        page = await audited.port(CivilRegistry).newborns(codes, born_from, born_to, cursor, limit)
        for child in page.items:
            audited.subject("cui", child.cui)
            audited.subject("dni", child.mother_dni)
        rows = [project(n.as_record(), audited.fields) for n in page.items]
        return audited.answer(rows, next_cursor=page.next_cursor)


@router.get(
    "/persons/{dni}/phone-lines",
    response_model=PhoneLinesAnswer,
    summary="Mobile lines registered to a DNI, from OSIPTEL",
)
async def get_phone_lines(
    dni: Dni,
    call: Caller,
) -> JSONResponse:
    async with audited_call(call, "osiptel.phone-lines", subject=("dni", dni)) as audited:
        number, _ = parse_document(dni, "path.dni")
        audited.subject("dni", number)
        lines = await audited.port(TelecomRegistry).phone_lines(number)
        return audited.answer([project(_line(x), audited.fields) for x in lines])


@router.post(
    "/accounts",
    response_model=AccountAnswer,
    status_code=201,
    summary="Open a Banco de la Nación Cuenta DNI (Idempotency-Key required)",
    responses={
        **documented(AccountAnswer, "The holder already had an account"),
        **problem_responses(409),
    },
)
async def open_account(
    body: AccountRequest,
    call: Caller,
    session: Session,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    payload = body.model_dump(mode="json")
    async with audited_call(
        call, "bn.account-opening", session=session, request_body=payload
    ) as audited:
        if idempotency_key is None:
            raise invalid(
                "header.idempotency-key", N_("required: opening an account must not repeat")
            )
        number, check = parse_document(body.dni, "body.dni")
        await audited.check_consent("dni", number)
        audited.shares_transaction = True
        replay = await audited.replay_or_claim(idempotency_key, payload)
        if replay is not None:
            return replay
        async with audited.releasing(idempotency_key):
            account = await audited.port(Bank).open_account(
                number, check, audited.partner_request_id(idempotency_key)
            )
        status = 201 if account.newly_opened else 200
        answer = audited.respond(project(_account(account), audited.fields), status=status)
        await audited.complete(session, idempotency_key, status, answer)
        return JSONResponse(answer, status_code=status)


@router.get(
    "/accounts/{dni}",
    response_model=AccountAnswer,
    summary="The Banco de la Nación account of a DNI",
)
async def get_account(
    dni: Dni,
    call: Caller,
) -> JSONResponse:
    async with audited_call(call, "bn.account", subject=("dni", dni)) as audited:
        number, _ = parse_document(dni, "path.dni")
        await audited.check_consent("dni", number)
        account = await audited.port(Bank).account(number)
        return audited.answer(project(_account(account), audited.fields))


@router.get(
    "/children/{cui}/health-services",
    response_model=HealthServicesAnswer,
    summary="Health services registered in MINSA HIS for a child",
)
async def get_health_services(
    cui: Cui,
    call: Caller,
) -> JSONResponse:
    async with audited_call(call, "minsa_his.health-services", subject=("cui", cui)) as audited:
        number, _ = parse_document(cui, "path.cui")
        await audited.check_consent("cui", number)
        history = await audited.port(HealthRegistry).health_history(number)
        return audited.answer([project(_service(s), audited.fields) for s in history.services])


@router.get(
    "/children/{cui}/coresponsibility",
    response_model=VerdictsAnswer,
    summary="Verdict per required health item for a period (no diagnosis revealed)",
)
async def get_coresponsibility(
    cui: Cui,
    call: Caller,
    period: Annotated[
        str, Query(description="The month judged, YYYY-MM.", json_schema_extra=PERIOD_SCHEMA)
    ],
) -> JSONResponse:
    async with audited_call(call, "minsa_his.coresponsibility", subject=("cui", cui)) as audited:
        number, _ = parse_document(cui, "path.cui")
        year, month = parse_period(period)
        await audited.check_consent("cui", number)
        history = await audited.port(HealthRegistry).health_history(number)
        until = period_end(year, month)
        if until < history.birth_date:
            raise invalid("query.period", N_("the period ends before the child was born"))
        items = verdicts(call.state.get(RuleTable), history.birth_date, history.services, until)
        return audited.answer([project(item, audited.fields) for item in items], period=period)
