"""The consent registry API. Every call is authorised by the catalog and audited like
any audited call; records are answered only to the roles the catalog names."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from gateway.auth.dependencies import Session
from gateway.calls.answers import DOCUMENT_SCHEMA
from gateway.calls.audited import Call, audited_call, project
from gateway.calls.caller import Caller
from gateway.calls.validation import EveryField, document_number, invalid, parse_document
from gateway.catalog.models import Catalog
from gateway.consent.schemas import (
    ConsentAnswer,
    ConsentCheckAnswer,
    ConsentRequest,
    ConsentsAnswer,
    RevocationRequest,
)
from gateway.consent.service import ConsentService
from gateway.core.errors import problem_responses
from gateway.core.i18n import N_
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.pseudonyms import Pseudonymizer

router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1",
    tags=["consent"],
    responses=problem_responses(401, 403, 404, 422),
)


def check_catalog_terms(
    call: Any, body: ConsentRequest, at: str = "body.", fields: EveryField | None = None
) -> None:
    """Purposes and data categories the catalog knows, and an expiry in the future;
    ``at`` prefixes the field named in a refusal (``body.consents[3].``). Every failing
    field is recorded in ``fields`` (raised at once when none is given)."""
    own = fields is None
    found = EveryField() if fields is None else fields
    catalog = call.state.get(Catalog)
    for i, purpose in enumerate(body.purposes):
        if purpose not in catalog.purposes:
            found.add(f"{at}purposes[{i}]", N_("not a purpose of the catalog"))
    for i, category in enumerate(body.data_categories):
        if category not in catalog.data_categories:
            found.add(f"{at}data_categories[{i}]", N_("not a data category of the catalog"))
    if body.expires_at is not None:
        if body.expires_at.tzinfo is None:
            found.add(f"{at}expires_at", N_("give a time zone (for example ...Z)"))
        elif body.expires_at <= datetime.now(UTC):
            found.add(f"{at}expires_at", N_("must be in the future"))
    if own:
        found.done()


def accepted_terms(call: Call, cui: str, dni: str, body: ConsentRequest) -> dict[str, Any]:
    """The terms of a consent accepted in an affiliation call, recorded by the caller."""
    return {
        "cui": cui,
        "caregiver_dni": dni,
        "purposes": body.purposes,
        "data_categories": body.data_categories,
        "legal_basis": "consent",
        "agreement_id": body.agreement_id,
        "agreement_version": body.agreement_version,
        "channel": body.channel,
        "evidence": body.evidence.model_dump(),
        "agent_id": body.agent_id,
        "expires_at": body.expires_at,
        "client_id": call.principal.client_id,
        "user_id": call.user_id,
    }


@router.post(
    "/consents",
    status_code=201,
    response_model=ConsentAnswer,
    summary="Record the consent accepted in the affiliation call (purpose affiliation)",
)
async def create_consent(body: ConsentRequest, call: Caller, session: Session) -> JSONResponse:
    payload = body.model_dump(mode="json")
    async with audited_call(
        call, "gateway.consents", session=session, request_body=payload
    ) as audited:
        fields = EveryField()
        cui = fields.take(partial(document_number, body.cui, "body.cui"))
        dni = fields.take(partial(document_number, body.caregiver_dni, "body.caregiver_dni"))
        check_catalog_terms(call, body, fields=fields)
        fields.done()  # raises unless both numbers parsed
        cui, dni = cast(str, cui), cast(str, dni)
        audited.subject("cui", cui)
        audited.subject("dni", dni)
        audited.shares_transaction = True
        record = await call.state.get(ConsentService).grant(
            session, **accepted_terms(call, cui, dni, body)
        )
        return JSONResponse(
            audited.respond(project(record, audited.fields), status=201), status_code=201
        )


def _parse_id(consent_id: str) -> str:
    try:
        return str(uuid.UUID(consent_id))
    except ValueError:
        raise invalid("path.consent_id", N_("not a consent id")) from None


@router.post(
    "/consents/{consent_id}/revocation",
    response_model=ConsentAnswer,
    responses=problem_responses(409),
    summary="Revoke a consent; effective on the next call",
)
async def revoke_consent(
    consent_id: str, body: RevocationRequest, call: Caller, session: Session
) -> JSONResponse:
    payload = body.model_dump(mode="json")
    async with audited_call(
        call, "gateway.consents", session=session, request_body=payload
    ) as audited:
        cid = _parse_id(consent_id)
        audited.shares_transaction = True
        record = await call.state.get(ConsentService).revoke(
            session, cid, body.reason, call.principal.client_id, call.user_id
        )
        audited.subject("cui", record["cui"])
        audited.subject("dni", record["caregiver_dni"])
        return audited.answer(project(record, audited.fields))


@router.get(
    "/consents/{consent_id}",
    response_model=ConsentAnswer,
    summary="One consent with its revision chain",
)
async def get_consent(consent_id: str, call: Caller, session: Session) -> JSONResponse:
    async with audited_call(call, "gateway.consents") as audited:
        cid = _parse_id(consent_id)
        record = await call.state.get(ConsentService).get(session, cid)
        audited.subject("cui", record["cui"])
        audited.subject("dni", record["caregiver_dni"])
        return audited.answer(project(record, audited.fields))


@router.get("/consents", response_model=ConsentsAnswer, summary="The consents recorded for a child")
async def list_consents(
    call: Caller,
    session: Session,
    cui: Annotated[str, Query(description="CUI of the child.", json_schema_extra=DOCUMENT_SCHEMA)],
) -> JSONResponse:
    async with audited_call(call, "gateway.consents") as audited:
        number, _ = parse_document(cui, "query.cui")
        audited.subject("cui", number)
        records = await call.state.get(ConsentService).for_child(session, number)
        return audited.answer([project(r, audited.fields) for r in records])


@router.get(
    "/consent-checks",
    response_model=ConsentCheckAnswer,
    summary="Whether active consent covers a purpose for a child (yes or no, nothing else)",
)
async def check_consent(
    call: Caller,
    session: Session,
    cui: Annotated[str, Query(description="CUI of the child.", json_schema_extra=DOCUMENT_SCHEMA)],
    purpose: Annotated[str, Query(pattern=r"^[a-z][a-z0-9-]{0,63}$")],
) -> JSONResponse:
    async with audited_call(call, "gateway.consent-check") as audited:
        number, _ = parse_document(cui, "query.cui")
        if purpose not in call.state.get(Catalog).purposes:
            raise invalid("query.purpose", N_("not a purpose of the catalog"))
        audited.subject("cui", number)
        ref = call.state.get(Pseudonymizer).of("cui", number)
        active = await call.state.get(ConsentService).active(session, [ref], purpose, None)
        return audited.answer(project({"purpose": purpose, "active": active}, audited.fields))
