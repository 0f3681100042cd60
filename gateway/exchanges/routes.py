"""Periodic exchanges: what is declared, how runs progress, and running one now."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.dependencies import Principal, Session, State, require_role
from gateway.calls.answers import UBIGEO_SCHEMA, documented
from gateway.calls.audited import audited_call
from gateway.calls.caller import Caller, UserId
from gateway.calls.validation import check_range, invalid, parse_ubigeos
from gateway.catalog.models import Catalog
from gateway.core.errors import language_headers, problem_responses, request_locale
from gateway.core.i18n import N_, Text
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.limits import INTEGER_MAX
from gateway.core.problems import PurposeNotAllowed
from gateway.districts import DistrictTable
from gateway.exchanges.schemas import ExchangeList, ExchangeRun, StagedRecordsAnswer
from gateway.exchanges.service import ExchangeService
from gateway.identifiers import CalendarDate
from gateway.jobs.starters import Starter

router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1/exchanges",
    tags=["operations"],
    responses=problem_responses(401, 403, 404, 422),
)
Admin = Annotated[Principal, Depends(require_role("admin"))]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    born_from: CalendarDate | None = Field(
        default=None, description="Default: the lookback window."
    )
    born_to: CalendarDate | None = None
    ubigeo: list[Annotated[str, Field(json_schema_extra=UBIGEO_SCHEMA)]] = Field(
        default_factory=list, max_length=50
    )


@router.get(
    "",
    summary="Declared periodic exchanges and their latest runs (admin)",
    response_model=None,
    responses=documented(ExchangeList, "Each exchange of the catalog with its recent runs"),
)
async def list_exchanges(
    _: Admin, state: State, session: Session, request: Request, response: Response
) -> dict[str, Any]:
    locale = request_locale(request)  # descriptions in Accept-Language's, Spanish by default
    response.headers.update(language_headers(locale))
    out = []
    for name, spec in state.get(Catalog).exchanges.items():
        out.append(
            {
                "name": name,
                "service": spec.service,
                "purpose": spec.purpose,
                "description": spec.description.in_locale(locale),
                "every_seconds": spec.every_seconds,
                "chunk_size": spec.chunk_size,
                "recent_runs": await state.get(ExchangeService).recent(session, name),
            }
        )
    return {"exchanges": out}


@router.post(
    "/{name}/runs",
    status_code=202,
    summary="Run an exchange now (admin)",
    response_model=ExchangeRun,
)
async def trigger_exchange_run(
    name: str,
    principal: Admin,
    state: State,
    session: Session,
    body: RunRequest | None = None,
    user_id: UserId = None,
) -> JSONResponse:
    """Queue a run now. The run names the calling client as ``triggered_by`` and the
    official of ``X-User-Id`` (if sent) as ``triggered_by_user``; every audit event of
    its partner calls carries the same pair as ``client_id`` and ``user_id``."""
    spec = state.get(ExchangeService).spec(name)
    request = body or RunRequest()
    today = date.today()
    born_to = request.born_to or today
    born_from = request.born_from or date.fromordinal(born_to.toordinal() - spec.lookback_days)
    check_range(born_from, born_to, location="body", today_when_absent=True)
    if born_to > today:
        raise invalid("body.born_to", N_("must not be in the future"))
    params = {
        "born_from": born_from.isoformat(),
        "born_to": born_to.isoformat(),
        "ubigeo": parse_ubigeos(request.ubigeo, "body.ubigeo", state.get(DistrictTable)),
    }
    starter = Starter.client(principal.client_id, user_id)
    run = await state.get(ExchangeService).trigger(session, name, params, starter)
    return JSONResponse(
        run,
        status_code=202,
        headers={"Location": f"/v1/exchanges/{name}/runs/{run['id'] if run else ''}"},
    )


@router.get(
    "/{name}/runs/{run_id}",
    summary="Progress of one run (admin)",
    response_model=None,
    responses=documented(ExchangeRun, "The run"),
)
async def get_exchange_run(
    name: str, run_id: str, _: Admin, state: State, session: Session
) -> dict[str, Any]:
    return await state.get(ExchangeService).get(session, name, run_id)


@router.get(
    "/{name}/runs/{run_id}/records",
    response_model=StagedRecordsAnswer,
    summary="Records a run staged, a few chunks at a time (the exchange's own purpose)",
)
async def exchange_run_records(
    name: str,
    run_id: str,
    call: Caller,
    session: Session,
    chunk: Annotated[int, Query(ge=0, le=INTEGER_MAX, description="First chunk to return.")] = 0,
    chunks: Annotated[int, Query(ge=1, le=100, description="At most this many chunks.")] = 10,
) -> JSONResponse:
    """What a programme system reads after a run: the staged records (already reduced to
    the purpose's fields) in chunk order. ``next_chunk`` is the ``chunk`` to ask for
    next; it is null once the run has finished and every chunk was returned, and it
    repeats while the run is still fetching. Audited like a brokered call; for a purpose
    that rests on consent, records whose consent was revoked since are withheld."""
    spec = call.state.get(ExchangeService).spec(name)
    async with audited_call(call, spec.service) as audited:
        if call.purpose != spec.purpose:
            raise PurposeNotAllowed(
                Text(
                    "this exchange stages records for purpose '{purpose}' only",
                    purpose=spec.purpose,
                ),
                extra={"purpose": call.purpose, "allowed_purposes": [spec.purpose]},
            )
        run, rows, following = await call.state.get(ExchangeService).chunks(
            session, name, run_id, chunk, chunks
        )
        rows = await audited.staged(rows)
        return audited.answer(
            rows,
            run={k: run[k] for k in ("id", "exchange", "state", "chunks_done", "records")},
            chunk=chunk,
            next_chunk=following,
        )
