"""The ASGI application: wiring only, no behaviour of its own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from gateway import __version__
from gateway.auditing.routes import public_router as audit_public_router
from gateway.auditing.routes import router as audit_router
from gateway.auth.oauth import install_oauth_error_handler
from gateway.broker.batches import router as batches_router
from gateway.broker.lane import LookupLane
from gateway.broker.routes import router as broker_router
from gateway.catalog.loader import load_catalog
from gateway.catalog.routes import router as catalog_router
from gateway.clients.routes import router as clients_router
from gateway.consent.routes import router as consent_router
from gateway.console.agent import router as console_agent_router
from gateway.console.auditor import router as console_auditor_router
from gateway.console.operator import router as console_operator_router
from gateway.console.routes import install as install_console
from gateway.core.db import transaction
from gateway.core.errors import install_error_handlers, problem_responses, too_large_response
from gateway.core.limits import (
    BodyLimitMiddleware,
    RouteLimits,
    document_body_limits,
    no_control_characters,
)
from gateway.core.links import document_links
from gateway.core.middleware import HeadAsGet, HeadRoutes, HttpMetrics, RequestContextMiddleware
from gateway.core.openapi import document_head, finish
from gateway.exchanges.routes import router as exchanges_router
from gateway.inbound.routes import router as inbound_router
from gateway.issuer.routes import router as auth_router
from gateway.ops.docs import ASSETS_PATH as DOCS_ASSETS_PATH
from gateway.ops.docs import assets as docs_assets
from gateway.ops.docs import router as docs_router
from gateway.ops.routes import partners_router as partners_health_router
from gateway.ops.routes import router as ops_router
from gateway.partners.routes import router as partners_router
from gateway.payments.routes import router as payments_router
from gateway.reminders.routes import router as reminders_router
from gateway.settings import Settings
from gateway.state import AppState
from gateway.subjects.routes import router as subjects_router
from gateway.subscriptions.routes import router as subscriptions_router

DESCRIPTION = (
    "One governed API between the JUNTOS programme and RENIEC, OSIPTEL, Banco de la Nación "
    "and MINSA HIS. Every `/v1` call needs a bearer token from `POST /v1/token` (OAuth2 "
    "client credentials; metadata at `/.well-known/oauth-authorization-server`). Errors are "
    "RFC 9457 `application/problem+json`, except the token endpoint's RFC 6749 errors."
)


def create_app_from_environment() -> FastAPI:
    """Entry point of each worker process started by ``serve --workers N``."""
    from gateway.core.logging import configure_logging
    from gateway.core.runtime import tune_collector

    tune_collector()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)


#: The read-only routes that answer HEAD as GET without the body (RFC 9110 §9.3.2), for
#: probes and monitors: none calls a partner or records an audit event. (The contract's
#: ``/openapi.json`` and the docs' assets answer HEAD of their own.)
HEAD_ROUTES = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/problems/{slug}",
    "/",
    "/docs",
    "/redoc",
    "/v1/services",
    "/v1/audit/keys",
    "/.well-known/jwks.json",
    "/.well-known/oauth-authorization-server",
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; the catalog is loaded here so a broken one fails fast."""
    settings = settings or Settings()
    settings.check_safe()
    catalog = load_catalog(settings.catalog_path, settings.catalog_schema_path)
    state = AppState.build(settings, catalog)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with transaction(state.sessions) as session:
            await state.keys.ensure(session)
            await state.keyring.load(session)
            await state.audit_keys.signer(session)
        background = []
        sealing = settings.audit_seal_interval_seconds > 0
        analyzing = settings.statistics_interval_seconds > 0
        if settings.exchanges_worker or settings.purge_interval_seconds > 0 or sealing or analyzing:
            # The job runner: exchanges, payment runs, deliveries, the audit seal, the
            # purge and the planner's statistics (only the last three when this process is
            # not a worker).
            only = None if settings.exchanges_worker else {"audit-seal", "purge", "statistics"}
            background.append(
                asyncio.create_task(state.jobs.run_forever(settings.exchanges_poll_seconds, only))
            )
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if sealing:
                with contextlib.suppress(Exception):  # sealed by the next process otherwise
                    await state.sealer.seal_now()
            await state.aclose()

    app = FastAPI(
        title="JUNTOS interoperability gateway",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
        responses=problem_responses(500),
        # Metrics are Prometheus (RequestContextMiddleware); FastAPI's OpenTelemetry hook
        # would otherwise look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        dependencies=[Depends(no_control_characters)],
        # Served from local assets instead (gateway.ops.docs): the defaults use a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = state
    install_error_handlers(app)
    install_oauth_error_handler(app)
    routers = (
        ops_router,
        auth_router,
        catalog_router,
        clients_router,
        broker_router,
        partners_health_router,
        consent_router,
        batches_router,
        subjects_router,
        audit_router,
        audit_public_router,
        inbound_router,
        exchanges_router,
        partners_router,
        payments_router,
        reminders_router,
        subscriptions_router,
        # Included here so that its upload's body limit (the API's) applies.
        console_agent_router,
    )
    routes = [route for router in routers for route in router.routes]
    limits = RouteLimits(routes)
    # The real-time look-ups by DNI skip FastAPI's routing and dependency solving
    # (gateway.broker.lane); innermost, so the body limit and request context apply.
    app.add_middleware(LookupLane, routes=broker_router.routes)
    app.state.head_routes = HeadRoutes(HEAD_ROUTES)
    app.add_middleware(HeadAsGet, routes=app.state.head_routes)
    # Inside the request context (its request id is in the 413), outside everything else.
    app.add_middleware(BodyLimitMiddleware, limits=limits, refuse=too_large_response)
    app.add_middleware(RequestContextMiddleware, metrics=HttpMetrics(state.metrics))
    for router in routers:
        app.include_router(router)
    app.include_router(docs_router)
    install_console(app)
    app.include_router(console_auditor_router)
    app.include_router(console_operator_router)
    app.mount(DOCS_ASSETS_PATH, docs_assets(), name="docs-assets")
    _document_problems(app, limits.by_operation(routes))
    return app


def _document_problems(app: FastAPI, body_limits: dict[str, int]) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_head(
                document_links(document_body_limits(finish(generate()), body_limits)),
                HEAD_ROUTES,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
