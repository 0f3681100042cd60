"""The look-up lane: the real-time look-ups by DNI answered without FastAPI's routing,
exception middleware and dependency solving.

A look-up's own work (token check, catalog decision, partner call, projection, audit
event) is a fraction of what FastAPI spends around it: matching the path against every
route, solving the dependency tree (cache keys, parameter models, cookie and query
reads), and three more layers of middleware. For ``GET /v1/persons/{dni}`` and
``GET /v1/persons/{dni}/phone-lines`` this lane, a plain ASGI middleware inside the
request context (request id, access log, metrics and the body limit still apply),
does what FastAPI would do for a request FastAPI would accept, and calls the same
endpoint function with the same ``Call``:

- the path matches a look-up's template exactly, the method is ``GET`` and there is no
  query string;
- the DNI has no control character (``no_control_characters``), ``X-Purpose`` is
  present and matches its pattern, ``X-User-Id`` is absent or matches its pattern
  (``gateway.calls.caller``);
- the principal is the one ``current_principal`` returns (401, 429 as there);
- a ``ProblemError`` is answered by the app's own handler for it, as FastAPI's
  exception middleware would; anything else propagates to the request context, which
  answers 500, as it does for FastAPI's routes.

Any other request (a refused header, a query string, another method or path, an app
with dependency overrides) goes to FastAPI unchanged, so every validation answer
(422 problems naming the field) is FastAPI's own. The routes stay declared in FastAPI:
the contract and ``/docs`` are unchanged. ``tests/gateway/broker/test_lane.py`` sends
the same requests through the lane and through FastAPI (an app with a dependency
override, however trivial, never takes the lane) and compares the answers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth.dependencies import current_principal
from gateway.broker.routes import get_person, get_phone_lines
from gateway.calls.audited import Call
from gateway.calls.caller import PURPOSE_PATTERN, USER_ID_PATTERN
from gateway.core.limits import has_control_characters
from gateway.core.problems import ProblemError
from gateway.core.web import components

Endpoint = Callable[[str, Call], Awaitable[Response]]

LOOKUPS: tuple[Endpoint, ...] = (get_person, get_phone_lines)
_PURPOSE = re.compile(PURPOSE_PATTERN)
_USER_ID = re.compile(USER_ID_PATTERN)


class LookupLane:
    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self._routes: list[tuple[re.Pattern[str], APIRoute, Endpoint]] = []
        for route in routes:
            if (
                isinstance(route, APIRoute)
                and route.endpoint in LOOKUPS
                and route.methods == {"GET"}
            ):
                regex, _, _ = compile_path(route.path)
                self._routes.append((regex, route, route.endpoint))

    def _match(self, scope: Scope) -> tuple[APIRoute, Endpoint, str] | None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope.get("query_string")
            or getattr(scope.get("app"), "dependency_overrides", None)
        ):
            return None
        path = _route_path(scope)
        if not path.startswith("/v1/persons/"):
            return None
        for regex, route, endpoint in self._routes:
            found = regex.match(path)
            if found is not None:
                dni = found["dni"]
                return None if has_control_characters(dni) else (route, endpoint, dni)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self._match(scope)
        if matched is None:
            await self.app(scope, receive, send)
            return
        route, endpoint, dni = matched
        headers = Headers(scope=scope)
        purpose = headers.get("x-purpose")
        user_id = headers.get("x-user-id")
        if (
            purpose is None
            or _PURPOSE.match(purpose) is None
            or (user_id is not None and _USER_ID.match(user_id) is None)
        ):
            await self.app(scope, receive, send)  # FastAPI answers what is wrong
            return
        scope["route"] = route
        scope["endpoint"] = endpoint
        scope["path_params"] = {"dni": dni}
        request = Request(scope, receive)
        try:
            principal = await current_principal(request, None)
            call = Call(request, components(request), principal, purpose, user_id)
            response = await endpoint(dni, call)
        except ProblemError as exc:
            response = await _problem(request, exc)
        await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the routes match, under the app's ``root_path`` (as Starlette's router
    reads it)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path != root and path[len(root)] == "/":
        return path[len(root) :]
    return path


async def _problem(request: Request, exc: ProblemError) -> Response:
    """The app's answer to ``exc``, from its exception handlers as FastAPI's exception
    middleware finds them (the nearest class in the exception's MRO)."""
    handlers: dict[Any, Any] = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            response: Response = await handler(request, exc)
            return response
    raise exc
