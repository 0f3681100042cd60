"""Operational endpoints: liveness, readiness, metrics, the problem types, and the
partners' health for operators (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.auth.dependencies import State
from gateway.calls.answers import documented
from gateway.calls.caller import Admin
from gateway.catalog.models import Catalog
from gateway.core import repository as core_repository
from gateway.core.errors import (
    language_headers,
    problem_response,
    problem_responses,
    request_locale,
)
from gateway.core.i18n import N_, Text, render
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.problems import PROBLEM_TYPES, NotFound, NotReady
from gateway.ops.schemas import Health, PartnersHealth, ProblemTypeDescription, Readiness
from gateway.partners.health import PartnerHealth
from gateway.settings import Settings

router = APIRouter(route_class=JSONBodyRoute, tags=["operations"])
# Operators' view of the partners: it calls none of them, so answers none of their errors.
partners_router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1",
    tags=["operations"],
    responses=problem_responses(401, 403),
)


@router.get(
    "/healthz",
    summary="The process is alive",
    response_model=None,
    responses=documented(Health, "Alive"),
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The gateway can serve: database reachable, catalog loaded",
    response_model=Readiness,
    responses=problem_responses(503),
)
async def readyz(request: Request, state: State) -> JSONResponse:
    checks: dict[str, dict[str, Any]] = {}
    try:
        async with state.get(AsyncEngine).connect() as conn:
            await core_repository.ping(conn)
        checks["database"] = {
            "status": "ok",
            "backend": state.get(AsyncEngine).url.get_backend_name(),
        }
    except (SQLAlchemyError, OSError) as exc:
        checks["database"] = {"status": "fail", "error": type(exc).__name__}
    checks["catalog"] = {
        "status": "ok",
        "services": len(state.get(Catalog).services),
        "purposes": len(state.get(Catalog).purposes),
    }
    # Partners are reported, not required: one agency down leaves the others servable.
    partners = {
        name: {"breaker": p["breaker"]} for name, p in state.get(PartnerHealth).report().items()
    }
    if all(c["status"] == "ok" for c in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks, "partners": partners})
    failing = ", ".join(name for name, c in checks.items() if c["status"] != "ok")
    return problem_response(
        NotReady.type(),
        Text("not ready: {failing}", failing=failing),
        request,
        extra={"checks": checks, "partners": partners},
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.get(CollectorRegistry)), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/problems/{slug}",
    summary="What a problem type means",
    response_model=None,
    responses={
        **documented(ProblemTypeDescription, "The problem type"),
        **problem_responses(404, 422),
    },
)
async def problem_type(
    request: Request,
    slug: Annotated[
        str,
        Path(
            description="A problem type's slug: the last segment of a problem's `type`.",
            # The catalog is the problem classes (gateway.core.problems); the contract
            # lists them so that a client generated from it knows every type.
            json_schema_extra={"enum": sorted(PROBLEM_TYPES)},
        ),
    ],
) -> JSONResponse:
    problem = PROBLEM_TYPES.get(slug)
    if problem is None:
        raise NotFound(N_("no such problem type"))
    # In the language Accept-Language asks for, as the problem documents themselves.
    locale = request_locale(request)
    return JSONResponse(
        {
            "type": problem.uri,
            "title": render(problem.title, locale),
            "status": problem.status,
            "description": render(problem.description, locale),
        },
        headers=language_headers(locale),
    )


@partners_router.get(
    "/partners",
    summary="Health of each partner: breaker, calls, failures, latency (admin)",
    response_model=None,
    responses=documented(PartnersHealth, "Each partner's breaker, calls and latency"),
)
async def partners(_: Admin, state: State) -> dict[str, Any]:
    report = state.get(PartnerHealth).report()
    configured = state.get(Settings).partners
    for name, health in report.items():
        partner = getattr(configured, name, None)
        health["address"] = getattr(partner, "base_url", None)
    return {"partners": report}
