"""Bounds on what a client may send: integer parameters and request bodies.

Integers. A query or path integer is compared with a ``BIGINT`` column (audit sequence
numbers, delivery ids) or an ``INTEGER`` one (chunk numbers); past the column's range
SQLite raises ``OverflowError`` and PostgreSQL an out-of-range error. The contract bounds
each such parameter (``minimum``/``maximum``) and FastAPI refuses a value outside with a
422 naming the field (``query.from_seq``).

Bodies. Every operation has a body limit in bytes, declared on its route with
:func:`body_limit` (``DEFAULT_BODY_BYTES`` when it names none) and published in the
contract as ``x-body-limit-bytes``. :class:`BodyLimitMiddleware` refuses a body over it
with a 413 ``payload-too-large`` problem naming the limit, before anything parses it: a
``Content-Length`` over the limit is refused before a byte of the body is read; a chunked
body is counted as it streams and refused the moment it passes the limit.

Starlette's own ``RequestBodyLimitMiddleware`` (FastAPI's ``max_body_size``) does the
counting alike but replaces every answer to an over-long declared body, the gateway's
problem document included, with a ``text/plain`` 413; clients of this gateway get RFC 9457
problems for every error, so the check lives here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BIGINT_MAX = 2**63 - 1
"""The largest value of a ``BIGINT`` column, the same on SQLite and PostgreSQL."""
INTEGER_MAX = 2**31 - 1
"""The largest value of an ``INTEGER`` column on PostgreSQL."""
DEFAULT_BODY_BYTES = 16 * 1024
"""Room for any single-record body (a consent, an account opening, a token request)."""
LIMIT_EXTENSION = "x-body-limit-bytes"
"""The contract's name, on each operation, for its body limit in bytes."""


def body_limit(limit: int) -> dict[str, Any]:
    """A route's ``openapi_extra`` declaring its body limit in bytes."""
    return {LIMIT_EXTENSION: limit}


def batch_body_bytes(entries: int, entry_bytes: int) -> int:
    """A batch operation's limit: ``entries`` entries of up to ``entry_bytes`` each (JSON
    with spaces and the field names included) plus a single-record envelope."""
    return entries * entry_bytes + DEFAULT_BODY_BYTES


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# A name quoted in an error: a name, not a value (at most three digits in all, as in
# "sha256": a DNI or a CUI has eight, a phone number nine, even written with separators),
# and one word (a field's name has no space; a person's full name has).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_DIGIT = re.compile(r"[0-9]")


def nameable(name: str) -> bool:
    """Whether a column name or a key a client sent may be quoted in an error: a plain
    name, not something that may be a value (a DNI written as a column name, a header
    line that is really a row of data)."""
    return bool(_NAME.fullmatch(name)) and len(_DIGIT.findall(name)) <= 3


def named_key(key: str, position: int) -> str:
    """How an error names a key a client sent: itself when :func:`nameable`, else its
    position (``key3``, counting from 1)."""
    return key if nameable(key) else f"key{position}"


def is_unicode_text(value: str) -> bool:
    """Whether ``value`` is text UTF-8 can write: no lone surrogate (``"\\ud800"``,
    which JSON's escapes let through, RFC 8259 §8.2)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def has_control_characters(value: str) -> bool:
    """Whether ``value`` holds a character :func:`no_control_characters` refuses."""
    return _CONTROL.search(value) is not None


async def no_control_characters(request: Request) -> None:
    """App-wide dependency: a path or query parameter with a control character is refused
    with 422 naming it (PostgreSQL cannot even compare a text holding NUL). A coroutine,
    so FastAPI runs it in the event loop instead of handing it to a worker thread (and
    back) on every request."""
    for where, values in (("path", request.path_params), ("query", request.query_params)):
        for name, value in values.items():
            if isinstance(value, str) and _CONTROL.search(value):
                raise RequestValidationError(
                    [
                        {
                            "loc": (where, name),
                            "msg": "control characters are not allowed",
                            "type": "control_characters",
                        }
                    ]
                )


class BodyTooLarge(HTTPException):
    """The body passed its operation's limit (``limit`` bytes); answered with 413.
    ``route``: the operation's path template, when it was refused before routing."""

    def __init__(self, limit: int, route: str | None = None) -> None:
        super().__init__(413, f"the body exceeds this operation's limit of {limit} bytes")
        self.limit = limit
        self.route = route


_WITH_BODY = {"POST", "PUT", "PATCH"}

REFUSED_ROUTE = "gateway.refused_route"
"""The ASGI scope key naming the path template of an operation whose body was refused
before the router ran (``gateway.core.middleware.route_template`` reads it)."""


class RouteLimits:
    """Each route's body limit, found by method and path before the router runs."""

    def __init__(self, routes: Iterable[Any], default: int = DEFAULT_BODY_BYTES) -> None:
        self.default = default
        # Every operation that takes a body: its declared limit, else the default.
        self.table: list[tuple[re.Pattern[str], set[str], int, str]] = [
            (
                route.path_regex,
                set(route.methods),
                int((getattr(route, "openapi_extra", None) or {}).get(LIMIT_EXTENSION, default)),
                route.path,
            )
            for route in routes
            if set(getattr(route, "methods", None) or ()) & _WITH_BODY
        ]

    def of(self, method: str, path: str) -> int:
        return self.declared(method, path)[0]

    def declared(self, method: str, path: str) -> tuple[int, str | None]:
        """The limit of the operation at ``method`` ``path`` and its path template (the
        default limit and None for an operation that declares none)."""
        for pattern, methods, limit, template in self.table:
            if method in methods and pattern.match(path):
                return limit, template
        return self.default, None

    def by_operation(self, routes: Iterable[Any]) -> dict[str, int]:
        return {
            route.name: self.of(next(iter(route.methods)), route.path)
            for route in routes
            if getattr(route, "methods", None)
        }


class BodyLimitMiddleware:
    """Refuses a request body over its route's limit before it is parsed (plain ASGI)."""

    def __init__(
        self,
        app: ASGIApp,
        limits: RouteLimits,
        refuse: Callable[[Request, BodyTooLarge], Response],
    ) -> None:
        self.app = app
        self.limits = limits
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, route = self.limits.declared(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            if route is not None:  # refused before routing: logs and metrics still name it
                scope[REFUSED_ROUTE] = route
            await self.refuse(Request(scope), BodyTooLarge(limit, route))(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def document_body_limits(schema: dict[str, Any], limits: dict[str, int]) -> dict[str, Any]:
    """Say in the contract, for each operation with a body, its limit and its 413 answer.

    ``limits`` maps an operation id to its limit in bytes."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            limit = limits.get(operation.get("operationId", ""))
            if limit is None or "requestBody" not in operation:
                continue
            operation[LIMIT_EXTENSION] = limit
            operation.setdefault("responses", {})["413"] = {
                "description": f"The body exceeds this operation's limit of {limit} bytes",
                "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
    return schema
