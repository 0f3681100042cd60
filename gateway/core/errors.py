"""Every error leaves the gateway as RFC 9457 ``application/problem+json``.

The problem types are classes in ``gateway.core.problems``; this module answers them.
Framework errors are translated at the boundary: a body that is not JSON becomes 400
``bad-request``, and one not sent as JSON to an operation that takes JSON 415
``unsupported-media-type``; request validation becomes 422 ``validation-error`` listing each
failing field; unknown routes become 404; a known path with another method becomes 405
with ``Allow`` naming every method of the path; anything
unexpected becomes 500 ``internal-error`` (in ``gateway.core.middleware``) carrying only
the request id, never the exception text, which may hold personal data.

Language: ``title``, ``detail`` and each of our own ``errors[].message`` are answered in
the language the request's ``Accept-Language`` asks for (``gateway.core.i18n.negotiate``:
Spanish when absent or not offered, English on request), from the ``problems`` catalog;
the answer says which in ``Content-Language`` and carries ``Vary: Accept-Language``.
``type``, ``status``, ``errors[].field`` and the other members are the same in every
language: clients key on them.
"""

from __future__ import annotations

import re
from string import Formatter
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from gateway.core.i18n import DEFAULT_LOCALE, N_, Text, negotiate, render
from gateway.core.limits import BodyTooLarge, nameable, named_key
from gateway.core.patterns import describe_pattern
from gateway.core.problems import (
    PROBLEM_TYPES,
    BadRequest,
    PayloadTooLarge,
    ProblemError,
    ProblemType,
    UnsupportedMediaType,
    ValidationFailed,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The schema of the token endpoint's RFC 6749 error documents (``gateway.issuer.schemas``).
OAUTH_ERROR_SCHEMA = "TokenErrorResponse"


_BY_STATUS = {
    400: "bad-request",
    401: "invalid-token",
    403: "role-not-granted",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    502: "partner-unavailable",
    503: "not-ready",
    504: "partner-timeout",
}
_STATUS_DESCRIPTIONS = {
    502: "The partner agency refused the gateway or answered unreadably",
    503: "Not ready, or the partner is unavailable, cut off or busy (see Retry-After)",
}


def problem_response(
    problem: ProblemType,
    detail: str | Text,
    request: Request | None = None,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """The problem document for ``problem``, in the request's language (Spanish without a
    request or an ``Accept-Language`` header). ``instance`` is the route's template; the
    route the router matched gives it, ``instance`` when the router has not run.

    ``detail`` and any ``errors[].message`` may be a ``Text`` or a catalog id; both are
    rendered with ``gateway.core.i18n.render``."""
    locale = request_locale(request)
    body: dict[str, Any] = {
        "type": problem.uri,
        "title": render(problem.title, locale),
        "status": problem.status,
        "detail": render(detail, locale),
    }
    if request is not None:
        # The route template, never the raw path: paths can carry a DNI or CUI.
        route = request.scope.get("route")
        if isinstance(getattr(route, "path", None), str):
            body["instance"] = route.path  # type: ignore[union-attr]
        elif instance is not None:
            body["instance"] = instance
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    if extra:
        body.update(extra)
        if isinstance(extra.get("errors"), list):
            body["errors"] = [_rendered(error, locale) for error in extra["errors"]]
    return JSONResponse(
        body,
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers={**(headers or {}), **language_headers(locale)},
    )


def language_headers(locale: str) -> dict[str, str]:
    """The headers of an answer whose text is in ``locale``, negotiated from the
    request's ``Accept-Language``: which language it is, and that caches must key on the
    header (RFC 9110 §8.5, §12.5.5)."""
    return {"Content-Language": locale, "Vary": "Accept-Language"}


def request_locale(request: Request | None) -> str:
    """The language a problem is answered in: ``Accept-Language`` negotiated, else Spanish."""
    if request is None:
        return DEFAULT_LOCALE
    return negotiate(request.headers.get("accept-language"))


def _rendered(error: Any, locale: str) -> Any:
    if isinstance(error, dict) and isinstance(error.get("message"), str | Text):
        return {**error, "message": render(error["message"], locale)}
    return error


def _field_name(loc: tuple[Any, ...], body: Any = None) -> str:
    """``("body", "dnis", 3)`` -> ``body.dnis[3]``: a list's entry by its index, as the
    gateway's own checks name it. A key of the body the client wrote (one the contract
    does not have, say) is named by ``gateway.core.limits.named_key``: itself when it is
    a plain name, else by its position in its object (``body.key2``), for a key may be a
    DNI or a name written where a key goes. ``body``: the JSON body as read, if any."""
    name = ""
    container = body
    for depth, part in enumerate(loc):
        if isinstance(part, int):
            name += f"[{part}]"
        elif not name:
            name = str(part)
        elif loc[0] == "body":
            name += f".{_body_key(container, str(part))}"
        else:
            name += f".{part}"  # a parameter the contract names
        if depth > 0:
            container = _member(container, part)
    return name


def _body_key(container: Any, key: str) -> str:
    if nameable(key):
        return key
    if isinstance(container, dict) and key in container:
        return named_key(key, list(container).index(key) + 1)
    return "key"


def _member(container: Any, part: Any) -> Any:
    if isinstance(container, dict) and isinstance(part, str):
        return container.get(part)
    if isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container):
        return container[part]
    return None


# Pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/) in
# the catalog's words, filled from the error's ``ctx``; any other type is "invalid value".
# Pydantic's own ``msg`` is English only, and some types quote the input.
_VALIDATION_MESSAGES: dict[str, str] = {
    "missing": N_("required"),
    # gateway.core.limits.no_control_characters
    "control_characters": N_("control characters are not allowed"),
    "extra_forbidden": N_("not a field of this operation"),
    # gateway.core.jsonbody: a key written twice in one object of the body
    "repeated_key": N_("repeated"),
    "string_type": N_("expected text"),
    "string_too_short": N_("expected {min_length} or more characters"),
    "string_too_long": N_("expected up to {max_length} characters"),
    "string_pattern_mismatch": N_("does not have the expected form ({pattern})"),
    "string_unicode": N_("expected valid Unicode text"),
    "int_type": N_("expected an integer"),
    "int_parsing": N_("expected an integer"),
    "int_parsing_size": N_("expected an integer"),
    "int_from_float": N_("expected an integer"),
    "float_type": N_("expected a number"),
    "float_parsing": N_("expected a number"),
    "finite_number": N_("expected a finite number"),
    "decimal_type": N_("expected a decimal number"),
    "decimal_parsing": N_("expected a decimal number"),
    "decimal_max_digits": N_("expected at most {max_digits} digits"),
    "decimal_max_places": N_("expected at most {decimal_places} decimal places"),
    "decimal_whole_digits": N_("expected at most {whole_digits} digits before the point"),
    "bool_type": N_("expected true or false"),
    "bool_parsing": N_("expected true or false"),
    "list_type": N_("expected a list"),
    "tuple_type": N_("expected a list"),
    "set_type": N_("expected a list"),
    "dict_type": N_("expected an object"),
    "model_type": N_("expected an object"),
    "model_attributes_type": N_("expected an object"),
    "too_short": N_("expected {min_length} or more entries"),
    "too_long": N_("expected up to {max_length} entries"),
    "greater_than": N_("expected a value greater than {gt}"),
    "greater_than_equal": N_("expected a value of at least {ge}"),
    "less_than": N_("expected a value less than {lt}"),
    "less_than_equal": N_("expected a value of at most {le}"),
    "multiple_of": N_("expected a multiple of {multiple_of}"),
    "literal_error": N_("expected one of {expected}"),
    "enum": N_("expected one of {expected}"),
    "date_type": N_("expected a date YYYY-MM-DD"),
    "date_parsing": N_("expected a date YYYY-MM-DD"),
    # gateway.identifiers.CalendarDate: 2021-02-30
    "date_not_a_day": N_("not a day of the calendar"),
    "date_from_datetime_parsing": N_("expected a date YYYY-MM-DD"),
    "date_from_datetime_inexact": N_("expected a date YYYY-MM-DD"),
    "datetime_type": N_("expected a date and time (ISO 8601)"),
    "datetime_parsing": N_("expected a date and time (ISO 8601)"),
    "datetime_from_date_parsing": N_("expected a date and time (ISO 8601)"),
    "timezone_aware": N_("expected a date and time with its offset from UTC"),
    "uuid_type": N_("expected a UUID"),
    "uuid_parsing": N_("expected a UUID"),
    "url_type": N_("expected a URL"),
    "url_parsing": N_("expected a URL"),
    "url_scheme": N_("expected a URL of scheme {expected_schemes}"),
}


#: The same refusals when the least is one: "1 or more entries" is not how a person says it.
_AT_LEAST_ONE: dict[str, str] = {
    "string_too_short": N_("expected at least one character"),
    "too_short": N_("expected at least one entry"),
}


def validation_message(error: Any) -> str | Text:
    """The catalog's message for one of pydantic's validation errors (a dict with
    ``type`` and ``ctx``), rendered in the reader's language by ``problem_response``;
    never pydantic's English ``msg``, never the input."""
    kind = str(error.get("type"))
    context = error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        form = describe_pattern(str(context.get("pattern", "")))
        if form is not None:  # the pattern in words; an unusual one is shown as written
            return Text(N_("expected {form}"), form=form)
    if kind in _AT_LEAST_ONE and context.get("min_length") == 1:
        return _AT_LEAST_ONE[kind]
    message = _VALIDATION_MESSAGES.get(kind, N_("invalid value"))
    names = [name for _, name, _, _ in Formatter().parse(message) if name]
    if not names:
        return message
    if any(name not in context for name in names):
        return N_("invalid value")
    return Text(message, **{name: _shown(name, context[name]) for name in names})


def _shown(name: str, value: Any) -> str:
    """A ``ctx`` value as the message shows it: pydantic writes the choices of a literal
    or an enum in English ("'a', 'b' or 'c'"); they are listed with commas instead."""
    if name in ("expected", "expected_schemes"):
        choices = re.findall(r"'([^']*)'", str(value))
        if choices:
            return ", ".join(choices)
    return str(value)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.problem, exc.detail, request, extra=exc.extra, headers=exc.headers)


def _not_json(request: Request) -> JSONResponse:
    # Malformed syntax is a 400 (RFC 9110 §15.5.1): nothing of the body was read.
    return problem_response(
        BadRequest.type(),
        N_("the body is not JSON"),
        request,
        extra={"errors": [{"field": "body", "message": N_("not valid JSON")}]},
    )


# What FastAPI raises for a body it cannot decode at all (not UTF-8, for one).
_UNPARSABLE_BODY = "There was an error parsing the body"


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return _not_json(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body_refused = any(tuple(err.get("loc", ()))[:1] == ("body",) for err in exc.errors())
    if body_refused and not (media == "application/json" or media.endswith("+json")):
        # FastAPI does not read a body as JSON unless it is declared so.
        return problem_response(
            UnsupportedMediaType.type(),
            N_("send the body as application/json"),
            request,
            extra={"errors": [{"field": "header.content-type", "message": N_("unsupported")}]},
        )
    body = getattr(request.state, "json_body", None)  # gateway.core.jsonbody keeps it
    errors = [
        {"field": _field_name(tuple(err.get("loc", ())), body), "message": validation_message(err)}
        for err in exc.errors()
    ]
    detail, listed = invalid_fields(errors)
    return problem_response(ValidationFailed.type(), detail, request, extra={"errors": listed})


#: A refusal lists at most this many failing fields (the first ones), so that the answer
#: to a large bad batch stays far smaller than the batch; as pushed files list the first
#: 1,000 refused rows.
MAX_LISTED_ERRORS = 1_000


def invalid_fields(errors: list[dict[str, Any]]) -> tuple[Text, list[dict[str, Any]]]:
    """The ``detail`` of a 422 naming the failing fields, and the ``errors`` to list: all
    of them, or past :data:`MAX_LISTED_ERRORS` the first ones and a detail that says how
    many there were."""
    if len(errors) <= MAX_LISTED_ERRORS:
        fields = ", ".join(str(e["field"]) for e in errors)
        return Text("invalid fields: {fields}", fields=fields), errors
    detail = Text(
        "{count:,} invalid fields; the first {listed:,} are listed",
        count=len(errors),
        listed=MAX_LISTED_ERRORS,
    )
    return detail, errors[:MAX_LISTED_ERRORS]


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, BodyTooLarge):
        return too_large_response(request, exc)
    if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
        return _not_json(request)
    slug = _BY_STATUS.get(exc.status_code)
    problem = (
        PROBLEM_TYPES[slug]
        if slug
        else ProblemType("http-error", N_("HTTP error"), exc.status_code, "")
    )
    detail: str | Text = exc.detail if isinstance(exc.detail, str) else problem.title
    if exc.status_code == 404 and detail == "Not Found":
        detail = N_("no resource at this address")
    elif exc.status_code == 405 and detail == "Method Not Allowed":
        detail = N_("Method Not Allowed")
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return problem_response(problem, detail, request, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route answers at this path (RFC 9110 §10.2.1); the framework's
    own ``Allow`` names only the methods of the first route that matched the path."""
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    # HEAD answered as GET by the middleware (gateway.core.middleware.HeadAsGet).
    head = getattr(request.app.state, "head_routes", None)
    if "GET" in allowed and "HEAD" not in allowed and head and head.answers(request.url.path):
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return ", ".join(allowed)


def too_large_response(request: Request, exc: BodyTooLarge) -> JSONResponse:
    """413 for a body over its operation's limit, refused before it was parsed. Like
    every answer of the token endpoint, the token endpoint's carries ``Cache-Control:
    no-store`` (RFC 6749 §5.1)."""
    token = request.url.path == "/v1/token"
    return problem_response(
        PayloadTooLarge.type(),
        Text("the body exceeds this operation's limit of {limit} bytes", limit=exc.limit),
        request,
        extra={
            "errors": [
                {"field": "body", "message": Text("larger than {limit} bytes", limit=exc.limit)}
            ]
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"} if token else None,
        instance=exc.route,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)


class ProblemField(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of the gateway is answered."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemField] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem answers for these statuses."""
    return {
        status: {
            "model": Problem,
            "description": _STATUS_DESCRIPTIONS.get(
                status, PROBLEM_TYPES[_BY_STATUS[status]].title
            ),
        }
        for status in statuses
    }
