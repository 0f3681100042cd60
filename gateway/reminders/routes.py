"""``/v1/reminders``: the programme asks for SMS reminders in batches, and reads them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.dependencies import Session
from gateway.calls.answers import documented
from gateway.calls.audited import audited_call, project
from gateway.calls.caller import Caller
from gateway.core.errors import problem_responses
from gateway.core.i18n import N_
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.limits import batch_body_bytes, body_limit
from gateway.core.problems import NotFound
from gateway.identifiers import PHONE_PATTERN
from gateway.reminders.schemas import ReminderBatchAnswer
from gateway.reminders.service import KEY, ROW_FIELDS, ReminderService

router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1/reminders",
    tags=["reminders"],
    responses=problem_responses(401, 403, 404, 422),
)

MAX_REMINDERS = 50_000
# A reminder (reminder_key, dni, phone) takes under 120 bytes as JSON.
BATCH_BODY_BYTES = batch_body_bytes(MAX_REMINDERS, 120)


REMINDER_ROW: dict[str, Any] = {
    "type": "object",
    "required": list(ROW_FIELDS),
    "additionalProperties": False,
    "properties": {
        "reminder_key": {
            "type": "string",
            "pattern": KEY.pattern,
            "description": "The programme's key of this reminder: asked again, in this "
            "batch or another, it is not sent twice.",
        },
        "dni": {
            "type": "string",
            "description": "The caregiver's DNI: 8 digits, optionally followed by its "
            "check character (RENIEC's printed form, e.g. 12345678-9), which must match.",
        },
        "phone": {
            "type": "string",
            "pattern": f"^{PHONE_PATTERN}$",
            "description": "A national mobile number: 9 digits starting with 9, without "
            "the country code.",
        },
    },
}


class ReminderBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_ref: Annotated[str, Field(pattern=KEY.pattern)] = Field(
        description="The batch's reference; sending it again returns the same batch."
    )
    template: str = Field(
        default="pending-service",
        description="What the message says: pending-service (a pending service at the "
        "health facility, naming none).",
    )
    reminders: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_REMINDERS,
        description="Each: reminder_key (sent at most once, across batches), dni (the "
        "caregiver), phone (national mobile number). Rows are checked one by one: a bad "
        "row is named by its position, and the batch is refused whole.",
        # The rows are read by the service, which names each bad row; the contract
        # still gives their shape to a generated client.
        json_schema_extra={"items": REMINDER_ROW},
    )


@router.post(
    "",
    status_code=201,
    response_model=ReminderBatchAnswer,
    responses=documented(ReminderBatchAnswer, "A batch with this batch_ref exists: that batch"),
    openapi_extra=body_limit(BATCH_BODY_BYTES),
    summary="Send SMS reminders to caregivers (purpose health-follow-up)",
)
async def create_reminders(
    body: ReminderBatchRequest, call: Caller, session: Session
) -> JSONResponse:
    async with audited_call(
        call, "smsc.reminders", session=session, request_body={"batch_ref": body.batch_ref}
    ) as audited:
        assert audited.grant is not None
        accepted = await call.state.get(ReminderService).accept(
            session,
            call.principal.client_id,
            audited.purpose,
            audited.grant.legal_basis,
            body.batch_ref,
            body.template,
            body.reminders,
        )
        for row in body.reminders if accepted.created else ():
            audited.subject("dni", row["dni"])
        audited.shares_transaction = True  # the batch and its event commit together
        status = 201 if accepted.created else 200
        answer = audited.respond(project(accepted.batch, audited.fields), status=status)
        return JSONResponse(answer, status_code=status)


@router.get(
    "/{batch_id}",
    response_model=ReminderBatchAnswer,
    summary="Progress of a batch of SMS reminders: sent, delivered, failed, opted out",
)
async def get_reminders(batch_id: str, call: Caller, session: Session) -> JSONResponse:
    async with audited_call(call, "smsc.reminders") as audited:
        try:
            batch = await call.state.get(ReminderService).view(session, batch_id)
        except LookupError:
            raise NotFound(N_("no reminder batch with this id")) from None
        return audited.answer(project(batch, audited.fields))
