"""``/v1/payment-runs``: the programme submits a roll; the gateway pays it once."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.dependencies import Session
from gateway.calls.answers import documented
from gateway.calls.audited import audited_call, project
from gateway.calls.caller import Caller
from gateway.calls.validation import invalid
from gateway.core.errors import language_headers, problem_responses, request_locale
from gateway.core.i18n import N_
from gateway.core.jsonbody import ExactNumbersRoute
from gateway.core.limits import batch_body_bytes, body_limit
from gateway.identifiers import CalendarDate
from gateway.jobs.starters import Starter
from gateway.payments.schemas import PaymentRunAnswer
from gateway.payments.service import PaymentService, intake_in_locale


class PaymentRollRoute(ExactNumbersRoute):
    """A roll's transfers are checked one by one at intake: a name the bank cannot carry
    (a control character included) rejects that transfer, the others are paid."""

    refuses_control_characters = False


router = APIRouter(
    route_class=PaymentRollRoute,
    prefix="/v1/payment-runs",
    tags=["payments"],
    responses=problem_responses(401, 403, 404, 422),
)


MAX_TRANSFERS = 500_000
# A transfer (end_to_end_id, dni, cci, amount, name) takes under 320 bytes as JSON.
PAYMENT_RUN_BODY_BYTES = batch_body_bytes(MAX_TRANSFERS, 320)


class PaymentRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_ref: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")] = Field(
        description="The roll's reference; sending it again returns the same run."
    )
    requested_date: CalendarDate
    transfers: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_TRANSFERS,
        description="Each: end_to_end_id, dni, cci, amount, name.",
    )


@router.post(
    "",
    status_code=201,
    response_model=PaymentRunAnswer,
    responses=documented(PaymentRunAnswer, "A run with this run_ref exists: that run"),
    openapi_extra=body_limit(PAYMENT_RUN_BODY_BYTES),
    summary="Pay a roll of transfers (purpose payment; consent checked per holder)",
)
async def create_payment_run(
    body: PaymentRunRequest, call: Caller, session: Session
) -> JSONResponse:
    async with audited_call(
        call, "bn.payments", session=session, request_body={"run_ref": body.run_ref}
    ) as audited:
        if body.requested_date < date.today():
            raise invalid("body.requested_date", N_("must not be in the past"))
        accepted = await call.state.get(PaymentService).accept(
            session,
            call.principal.client_id,
            body.run_ref,
            body.requested_date,
            body.transfers,
            Starter.client(call.principal.client_id, call.user_id),
        )
        # The run and its audit event commit together, with the request.
        audited.shares_transaction = True
        status = 201 if accepted.created else 200
        locale = request_locale(call.request)
        run = intake_in_locale(accepted.run, locale)
        answer = audited.respond(project(run, audited.fields), status=status)
        return JSONResponse(answer, status_code=status, headers=language_headers(locale))


@router.get(
    "/{run_id}",
    response_model=PaymentRunAnswer,
    summary="Progress and reconciliation of a payment run",
)
async def get_payment_run(run_id: str, call: Caller, session: Session) -> JSONResponse:
    async with audited_call(call, "bn.payments") as audited:
        run = await call.state.get(PaymentService).view(session, run_id)
        locale = request_locale(call.request)
        answer = audited.answer(project(intake_in_locale(run, locale), audited.fields))
        answer.headers.update(language_headers(locale))
        return answer
