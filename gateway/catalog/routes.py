"""``GET /v1/services``: what the calling client may use, in the manner of X-Road's
``allowedMethods``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gateway.auth.dependencies import CurrentPrincipal, State, require_purpose
from gateway.catalog.models import Catalog
from gateway.catalog.schemas import PurposeAccess, ServiceAccess, ServiceList
from gateway.core.errors import language_headers, problem_responses, request_locale
from gateway.core.jsonbody import JSONBodyRoute

router = APIRouter(
    route_class=JSONBodyRoute, tags=["catalog"], responses=problem_responses(401, 403, 422)
)


@router.get(
    "/v1/services",
    response_model=ServiceList,
    summary="Services, purposes and fields the calling client may use",
)
async def list_services(
    principal: CurrentPrincipal,
    state: State,
    request: Request,
    response: Response,
    purpose: Annotated[
        str | None, Query(description="Only services usable for this purpose.")
    ] = None,
) -> ServiceList:
    purposes = set(principal.purposes)
    if purpose is not None:
        require_purpose(principal, purpose)
        purposes = {purpose}
    catalog = state.get(Catalog)
    # Descriptions in the language Accept-Language asks for, Spanish by default.
    locale = request_locale(request)
    response.headers.update(language_headers(locale))
    services = []
    for sid, grants in catalog.usable_services(principal.roles, purposes).items():
        service = catalog.services[sid]
        services.append(
            ServiceAccess(
                id=sid,
                partner=service.partner,
                operation=service.operation,
                description=service.description.in_locale(locale),
                data_category=service.data_category,
                purposes=[
                    PurposeAccess(
                        purpose=p,
                        legal_basis=g.legal_basis,
                        legal_basis_citation=catalog.legal_bases[g.legal_basis].citation,
                        consent_required=catalog.legal_bases[g.legal_basis].requires_consent,
                        fields=list(g.fields),
                    )
                    for p, g in grants.items()
                ],
            )
        )
    return ServiceList(client_id=principal.client_id, services=services)
