"""``GET /v1/subjects/{dni}/disclosures``: every disclosure of one person's data.

Read from the audit log, where the person appears only as keyed pseudonyms (see
``gateway.subjects.service``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from gateway.auth.dependencies import Session
from gateway.calls.audited import audited_call, project
from gateway.calls.caller import Caller, Dni
from gateway.calls.validation import parse_document
from gateway.catalog.models import Catalog
from gateway.core.errors import problem_responses
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.limits import BIGINT_MAX
from gateway.core.pseudonyms import Pseudonymizer
from gateway.subjects.schemas import DisclosuresAnswer
from gateway.subjects.service import disclosures_page

router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1",
    tags=["audit"],
    responses=problem_responses(401, 403, 422),
)


@router.get(
    "/subjects/{dni}/disclosures",
    response_model=DisclosuresAnswer,
    summary="Every disclosure of a person's data: when, to whom, why, which fields, basis",
)
async def disclosures(
    dni: Dni,
    call: Caller,
    session: Session,
    cursor: Annotated[
        int | None, Query(ge=0, le=BIGINT_MAX, description="next_cursor of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> JSONResponse:
    async with audited_call(call, "gateway.subject-disclosures", subject=("dni", dni)) as audited:
        number, _ = parse_document(dni, "path.dni")
        audited.subject("dni", number)
        page = await disclosures_page(
            session,
            call.state.get(Pseudonymizer),
            call.state.get(Catalog),
            number,
            cursor or 0,
            limit,
        )
        items = [project(d.as_record(), audited.fields) for d in page.items]
        next_cursor = str(page.next_after) if page.next_after is not None else None
        return audited.answer(items, next_cursor=next_cursor)
