"""Batch endpoints: the per-household look-ups of an operation, many households a call.

A national operation contacts, affiliates, banks and follows up hundreds of thousands of
households; one request per household spends most of its time on the request itself.
Each endpoint here does what its single counterpart does for up to ``MAX_BATCH``
households in one request and one partner round trip, under the same catalog service,
purpose, projection and consent rules:

- the whole body is validated first; a malformed entry refuses the request with a
  problem naming it (``body.dnis[3]``) and nothing is done;
- each entry is answered on its own, in the order given: its data, or its ``status``
  and ``error`` (no consent, unknown to the partner, refused by the bank);
- one audit event records the call, naming as subjects only the households whose data
  was disclosed or changed (outcome ``partial`` and reason ``consent-required`` when a
  consent was missing for some);
- what changes state (consents, accounts) takes an ``Idempotency-Key``: a repeated
  batch returns the first answer and never records or opens anything twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.dependencies import Session
from gateway.broker.routes import _account, _line
from gateway.broker.rules import RuleTable, period_end, verdicts
from gateway.broker.schemas import (
    AccountOpeningsAnswer,
    AccountRequest,
    ChildVerdictsAnswer,
    PhoneLineLookupsAnswer,
)
from gateway.calls.answers import DOCUMENT_SCHEMA, PERIOD_SCHEMA
from gateway.calls.audited import AuditedCall, audited_call, project
from gateway.calls.caller import Caller, IdempotencyKey
from gateway.calls.validation import (
    EveryField,
    document_number,
    invalid,
    parse_documents,
    parse_period,
)
from gateway.consent.routes import accepted_terms, check_catalog_terms
from gateway.consent.schemas import ConsentRequest, ConsentsAnswer
from gateway.consent.service import ConsentService
from gateway.core.errors import problem_responses
from gateway.core.i18n import N_
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.limits import batch_body_bytes, body_limit
from gateway.partners.models import Account, HealthHistory, OpeningRefused
from gateway.partners.ports import Bank, HealthRegistry, TelecomRegistry

MAX_BATCH = 1000
# Body limits: MAX_BATCH entries of the largest size a real client sends, spaces included.
NUMBERS_BODY_BYTES = batch_body_bytes(MAX_BATCH, 48)  # "60542601-3", a DNI or CUI
HOLDERS_BODY_BYTES = batch_body_bytes(MAX_BATCH, 96)  # {"dni": "60542601-3"}
CONSENTS_BODY_BYTES = batch_body_bytes(MAX_BATCH, 2048)  # a consent with its evidence
R = TypeVar("R")
Document = Annotated[str, Field(json_schema_extra=DOCUMENT_SCHEMA)]

router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1",
    tags=["batches"],
    responses=problem_responses(401, 403, 409, 422, 502, 503, 504),
)


class PhoneLineLookups(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dnis: list[Document] = Field(
        min_length=1, max_length=MAX_BATCH, description="Caregivers' DNIs."
    )


class ConsentBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consents: list[ConsentRequest] = Field(min_length=1, max_length=MAX_BATCH)


class AccountOpenings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holders: list[AccountRequest] = Field(min_length=1, max_length=MAX_BATCH)


class VerdictRequests(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="The month judged, YYYY-MM.", json_schema_extra=PERIOD_SCHEMA)
    cuis: list[Document] = Field(min_length=1, max_length=MAX_BATCH, description="Children's CUIs.")


def _refused(key: str, number: str) -> dict[str, Any]:
    return {key: number, "status": 403, "error": "consent-required"}


def _settle(audited: AuditedCall, disclosed: int, refused: int) -> None:
    if refused:
        audited.event.reason = "consent-required"
        audited.event.outcome = "partial" if disclosed else "denied"
        if not disclosed:
            audited.event.decision = "denied"


def _required(key: str | None) -> str:
    if key is None:
        raise invalid(
            "header.idempotency-key", N_("required: a batch that changes state must not repeat")
        )
    return key


def _answers(
    key: str,
    numbers: list[str],
    allowed: list[bool],
    results: Iterable[R],
    answer: Callable[[str, R], dict[str, Any]],
) -> list[dict[str, Any]]:
    """One entry per number, in order: the partner's result (given for the allowed ones
    only, in order) as ``answer`` shapes it, or the consent refusal."""
    found = iter(results)
    return [
        answer(number, next(found)) if ok else _refused(key, number)
        for number, ok in zip(numbers, allowed, strict=True)
    ]


@router.post(
    "/phone-line-lookups",
    response_model=PhoneLineLookupsAnswer,
    openapi_extra=body_limit(NUMBERS_BODY_BYTES),
    summary="Mobile lines of many caregivers at once, from OSIPTEL (purpose contact)",
)
async def phone_line_lookups(body: PhoneLineLookups, call: Caller) -> JSONResponse:
    async with audited_call(call, "osiptel.phone-lines", request_body=body.model_dump()) as audited:
        numbers = [n for n, _ in parse_documents(body.dnis, lambda i: f"body.dnis[{i}]")]
        allowed = await audited.check_consent_each("dni", numbers)
        asked = [n for n, ok in zip(numbers, allowed, strict=True) if ok]
        found = await audited.port(TelecomRegistry).phone_lines_many(asked) if asked else []
        data = _answers(
            "dni",
            numbers,
            allowed,
            found,
            lambda number, lines: {
                "dni": number,
                "lines": [project(_line(x), audited.fields) for x in lines],
            },
        )
        _settle(audited, len(asked), len(numbers) - len(asked))
        return audited.answer(data)


@router.post(
    "/consent-batches",
    status_code=201,
    response_model=ConsentsAnswer,
    openapi_extra=body_limit(CONSENTS_BODY_BYTES),
    summary="Record the consents accepted in many affiliation calls, all or none "
    "(purpose affiliation, Idempotency-Key required)",
)
async def consent_batch(
    body: ConsentBatch, call: Caller, session: Session, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    payload = body.model_dump(mode="json")
    async with audited_call(
        call, "gateway.consents", session=session, request_body=payload
    ) as audited:
        parsed = []
        fields = EveryField()
        for i, consent in enumerate(body.consents):
            at = f"body.consents[{i}]."
            cui = fields.take(partial(document_number, consent.cui, f"{at}cui"))
            dni = fields.take(partial(document_number, consent.caregiver_dni, f"{at}caregiver_dni"))
            check_catalog_terms(call, consent, at, fields)
            if cui is not None and dni is not None:
                parsed.append((cui, dni, consent))
        fields.done()
        key = _required(idempotency_key)
        replay = await audited.replay_or_claim(key, payload)
        if replay is not None:
            return replay
        audited.shares_transaction = True
        async with audited.releasing(key):
            for cui, dni, _ in parsed:
                audited.subject("cui", cui)
                audited.subject("dni", dni)
            granted = await call.state.get(ConsentService).grant_many(
                session, [accepted_terms(call, cui, dni, consent) for cui, dni, consent in parsed]
            )
            records = [project(record, audited.fields) for record in granted]
        answer = audited.respond(records, status=201)
        await audited.complete(session, key, 201, answer)
        return JSONResponse(answer, status_code=201)


@router.post(
    "/account-openings",
    response_model=AccountOpeningsAnswer,
    openapi_extra=body_limit(HOLDERS_BODY_BYTES),
    summary="Open Banco de la Nación Cuentas DNI for many holders in one mass opening "
    "(purpose payment, Idempotency-Key required)",
)
async def account_openings(
    body: AccountOpenings, call: Caller, session: Session, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    payload = body.model_dump(mode="json")
    async with audited_call(
        call, "bn.account-opening", session=session, request_body=payload
    ) as audited:
        holders = parse_documents([h.dni for h in body.holders], lambda i: f"body.holders[{i}].dni")
        allowed = await audited.check_consent_each("dni", [number for number, _ in holders])
        asked = [h for h, ok in zip(holders, allowed, strict=True) if ok]
        key = _required(idempotency_key)
        replay = await audited.replay_or_claim(key, payload)
        if replay is not None:
            return replay
        audited.shares_transaction = True
        async with audited.releasing(key):
            opened = (
                await audited.port(Bank).open_accounts(
                    asked, audited.partner_request_id(key, "batch")
                )
                if asked
                else []
            )

        def shape(number: str, result: Account | OpeningRefused) -> dict[str, Any]:
            if isinstance(result, OpeningRefused):
                return {
                    "dni": number,
                    "status": 422,
                    "error": "partner-invalid-input",
                    "bank_code": result.code,
                }
            return {
                "dni": number,
                "status": 201 if result.newly_opened else 200,
                "account": project(_account(result), audited.fields),
            }

        data = _answers("dni", [number for number, _ in holders], allowed, opened, shape)
        _settle(audited, len(asked), len(holders) - len(asked))
        answer = audited.respond(data)
        await audited.complete(session, key, 200, answer)
        return JSONResponse(answer)


@router.post(
    "/coresponsibility-verdicts",
    response_model=ChildVerdictsAnswer,
    openapi_extra=body_limit(NUMBERS_BODY_BYTES),
    summary="Verdicts per required health item for many children and one period "
    "(no diagnosis revealed)",
)
async def coresponsibility_verdicts(body: VerdictRequests, call: Caller) -> JSONResponse:
    async with audited_call(
        call, "minsa_his.coresponsibility", request_body=body.model_dump()
    ) as audited:
        year, month = parse_period(body.period, "body.period")
        numbers = [n for n, _ in parse_documents(body.cuis, lambda i: f"body.cuis[{i}]")]
        allowed = await audited.check_consent_each("cui", numbers)
        asked = [n for n, ok in zip(numbers, allowed, strict=True) if ok]
        histories = await audited.port(HealthRegistry).health_histories(asked) if asked else []
        until = period_end(year, month)

        def judge(number: str, history: HealthHistory | None) -> dict[str, Any]:
            if history is None:
                return {"cui": number, "status": 404, "error": "partner-not-found"}
            if until < history.birth_date:
                return {"cui": number, "status": 422, "error": "period-before-birth"}
            items = verdicts(call.state.get(RuleTable), history.birth_date, history.services, until)
            return {"cui": number, "verdicts": [project(i, audited.fields) for i in items]}

        data = _answers("cui", numbers, allowed, histories, judge)
        _settle(audited, len(asked), len(numbers) - len(asked))
        return audited.answer(data, period=body.period)
