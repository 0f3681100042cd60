"""``GET /v1/subjects/{dni}/disclosures``: every disclosure of one person's data.

Read from the audit log, where the person appears only as keyed pseudonyms: the number
in the path is pseudonymised as a DNI and as a CUI (a Peruvian child's CUI is the number
of their DNI) and matched against the subjects of each event that disclosed fields.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from gateway.auth.dependencies import Session
from gateway.calls.audited import audited_call, project
from gateway.calls.caller import Caller, Dni
from gateway.calls.validation import parse_document
from gateway.catalog.models import Catalog
from gateway.clients.repository import ClientRepository
from gateway.core.errors import problem_responses
from gateway.core.limits import BIGINT_MAX
from gateway.core.pseudonyms import Pseudonymizer
from gateway.subjects.repository import disclosures_about
from gateway.subjects.schemas import DisclosuresAnswer

router = APIRouter(prefix="/v1", tags=["audit"], responses=problem_responses(401, 403, 422))


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
    async with audited_call(call, "gateway.subject-disclosures") as audited:
        number, _ = parse_document(dni, "path.dni")
        audited.subject("dni", number)
        refs = {
            call.state.get(Pseudonymizer).of("dni", number): "dni",
            call.state.get(Pseudonymizer).of("cui", number): "cui",
        }
        # Queries of the audit log itself disclose metadata, not the person's data.
        oversight = [
            sid
            for sid, service in call.state.get(Catalog).services.items()
            if service.data_category == "audit"
        ]
        rows = await disclosures_about(session, list(refs), oversight, cursor or 0, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        ids = {r["client_id"] for r in rows if r["client_id"]}
        names = await ClientRepository(session).names(ids) if ids else {}
        items: list[dict[str, Any]] = []
        for r in rows:
            if not r["fields"]:
                continue
            moment = r["occurred_at"]
            items.append(
                project(
                    {
                        "sequence": r["seq"],
                        "timestamp": moment.isoformat().replace("+00:00", "Z") if moment else None,
                        "client_id": r["client_id"],
                        "client_name": names.get(r["client_id"]),
                        "user_id": r["user_id"],
                        "purpose": r["purpose"],
                        "legal_basis": r["legal_basis"],
                        "service": r["service"],
                        "partner": r["partner"],
                        "fields_disclosed": r["fields"],
                        "subject_role": sorted(
                            {role for ref, role in refs.items() if ref in r["subjects"]}
                        ),
                    },
                    audited.fields,
                )
            )
        next_cursor = str(rows[-1]["seq"]) if more and rows else None
        return audited.answer(items, next_cursor=next_cursor)
