"""Per-request plumbing: request id, access log, metrics, last-resort error translation.

Written as plain ASGI so streaming bodies pass through untouched.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.core.errors import problem_response
from gateway.core.i18n import N_
from gateway.core.limits import REFUSED_ROUTE
from gateway.core.problems import InternalError

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
log = structlog.get_logger("gateway.access")


class HttpMetrics:
    """Request counts and latency by route template and status; no per-person labels."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "gateway_http_requests",
            "HTTP requests handled, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "gateway_http_request_duration_seconds",
            "Time to handle an HTTP request, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        # The labelled series of each (method, route, status) seen, so a request does
        # not look its series up by label values again (a few route templates and
        # statuses: bounded).
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its duration."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            labels = (method, route, str(status))
            series = (self.requests.labels(*labels), self.latency.labels(*labels))
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)


def new_request_id() -> str:
    """A random (version 4) UUID for a request that did not bring its id. It names a
    request in logs and the audit, it guards nothing, so it comes from the process's
    pseudo-random generator (seeded from the system's, and again in a forked child)
    rather than a system call per request."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def route_template(scope: Scope) -> str:
    """The path template of the operation that answered (a body refused before routing:
    the operation it was sent to); ``<unmatched>`` when no operation has that path."""
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get(REFUSED_ROUTE)
    return path if isinstance(path, str) else "<unmatched>"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        request_id = offered if _SANE_REQUEST_ID.match(offered) else new_request_id()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            log.error("unhandled_error", error_type=type(exc).__name__)
            if response_started:
                raise
            response = problem_response(
                InternalError.type(),
                N_("the gateway failed while handling this request"),
                Request(scope),
            )
            await response(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            self.metrics.observe(method, route, status, elapsed)
            log.info(
                "request",
                client_id=state.get("client_id"),
                method=method,
                route=route,
                status=status,
                latency_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


class HeadRoutes:
    """The read-only routes that answer ``HEAD`` (:class:`HeadAsGet`), by template
    (``/problems/{slug}``)."""

    def __init__(self, templates: Iterable[str]) -> None:
        self.patterns = [compile_path(template)[0] for template in templates]

    def answers(self, path: str) -> bool:
        return any(pattern.fullmatch(path) for pattern in self.patterns)


class HeadAsGet:
    """``HEAD`` for the read-only ``routes``: answered as ``GET`` without the body, with
    the same status and headers (RFC 9110 §9.3.2), for the probes and monitors that
    check with ``HEAD``.

    Only routes that neither call a partner nor record an audit event are named: the
    framework's routes answer ``HEAD`` with 405, and answering it through every ``GET``
    handler would make a look-up's partner call and audit event for an answer thrown
    away. The 405's ``Allow`` names ``HEAD`` where it is answered (``app.state.head_routes``,
    read by ``gateway.core.errors``)."""

    def __init__(self, app: ASGIApp, routes: HeadRoutes) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "HEAD"
            or not self.routes.answers(scope["path"])
        ):
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        inner = {**scope, "method": "GET"}
        try:
            await self.app(inner, receive, headers_only)
        finally:  # the route the router matched, for the access log and the metrics
            for key in ("route", "endpoint", "path_params"):
                if key in inner:
                    scope[key] = inner[key]
