"""Periodic exchanges: what is declared, how runs progress, and running one now."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.dependencies import Principal, State, require_role
from gateway.broker.validation import check_range, invalid, parse_ubigeos
from gateway.core.errors import problem_responses

router = APIRouter(
    prefix="/v1/exchanges", tags=["operations"], responses=problem_responses(401, 403, 404, 422)
)
Admin = Annotated[Principal, Depends(require_role("admin"))]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    born_from: date | None = Field(default=None, description="Default: the lookback window.")
    born_to: date | None = None
    ubigeo: list[str] = Field(default_factory=list, max_length=50)


@router.get("", summary="Declared periodic exchanges and their latest runs (admin)")
async def list_exchanges(_: Admin, state: State) -> dict[str, Any]:
    out = []
    for name, spec in state.catalog.exchanges.items():
        out.append(
            {
                "name": name,
                "service": spec.service,
                "purpose": spec.purpose,
                "description": spec.description,
                "every_seconds": spec.every_seconds,
                "chunk_size": spec.chunk_size,
                "recent_runs": await state.exchanges.recent(name),
            }
        )
    return {"exchanges": out}


@router.post("/{name}/runs", status_code=202, summary="Run an exchange now (admin)")
async def trigger_exchange_run(
    name: str, principal: Admin, state: State, body: RunRequest | None = None
) -> JSONResponse:
    spec = state.exchanges.spec(name)
    request = body or RunRequest()
    today = date.today()
    born_to = request.born_to or today
    born_from = request.born_from or date.fromordinal(born_to.toordinal() - spec.lookback_days)
    check_range(born_from, born_to)
    if born_to > today:
        raise invalid("body.born_to", "must not be in the future")
    params = {
        "born_from": born_from.isoformat(),
        "born_to": born_to.isoformat(),
        "ubigeo": parse_ubigeos(request.ubigeo, "body.ubigeo"),
    }
    run = await state.exchanges.trigger(name, params, principal.client_id)
    return JSONResponse(
        run,
        status_code=202,
        headers={"Location": f"/v1/exchanges/{name}/runs/{run['id'] if run else ''}"},
    )


@router.get("/{name}/runs/{run_id}", summary="Progress of one run (admin)")
async def get_exchange_run(name: str, run_id: str, _: Admin, state: State) -> dict[str, Any]:
    return await state.exchanges.get(name, run_id)
