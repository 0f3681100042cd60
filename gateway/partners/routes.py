"""Partner administration over HTTP (admin role); the CLI offers the same operation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gateway.auth.dependencies import Principal, State, require_role
from gateway.core.errors import problem_responses
from gateway.core.i18n import N_
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.problems import NotFound
from gateway.partners.credentials import Actor, CredentialStore
from gateway.partners.errors import PartnerError, problem_for
from gateway.partners.registry import PartnerRegistry

router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1/partners",
    tags=["operations"],
    responses=problem_responses(401, 403, 404),
)
Admin = Annotated[Principal, Depends(require_role("admin"))]


class CredentialRenewal(BaseModel):
    partner: str = Field(description="The partner whose credential was renewed.")
    renewed_at: datetime = Field(description="When the partner accepted it (UTC).")


@router.post(
    "/{partner}/credential-renewals",
    status_code=201,
    response_model=CredentialRenewal,
    summary="Renew the gateway's credential at a partner (admin)",
    description=(
        "Makes up a new credential, has the partner replace the one in force with it "
        "(RENIEC: `actualizarcredencial`, the answer to result code 1002, password "
        "expired) and stores it sealed; every gateway process uses it from then on. "
        "The credential is never shown. Audited. A partner refusal is a 502 "
        "`partner-refused` (or `partner-invalid-input`) problem and leaves the "
        "credential in force unchanged."
    ),
    responses=problem_responses(502, 503, 504),
)
async def renew_credential(
    partner: str, principal: Admin, state: State, request: Request
) -> CredentialRenewal:
    adapter = state.get(PartnerRegistry).credentials.get(partner)
    if adapter is None:
        raise NotFound(N_("no partner with a renewable credential by this name"))
    actor = Actor(
        request_id=getattr(request.state, "request_id", ""),
        client_id=principal.client_id,
        roles=tuple(sorted(principal.roles)),
    )
    try:
        renewal = await state.get(CredentialStore).renew(adapter, actor)
    except PartnerError as exc:
        raise problem_for(exc) from None
    return CredentialRenewal(partner=renewal.partner, renewed_at=renewal.renewed_at)
