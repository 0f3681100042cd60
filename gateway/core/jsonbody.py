"""JSON bodies read strictly: every key once, no ``NaN``.

Python's ``json`` (which FastAPI uses for request bodies) keeps the last value of a key
written twice and says nothing: a payment roll whose transfer names ``"dni"`` twice would
be paid to the second DNI, a batch with two ``"dnis"`` arrays would look up the second.
RFC 8259 §4 leaves such an object's meaning to the reader ("names within an object
SHOULD be unique"; readers differ on which value they keep), and I-JSON (RFC 7493 §2.3)
forbids it. ``json`` also reads ``NaN``, ``Infinity`` and ``-Infinity``, which are not
JSON (RFC 8259 §6).

- :func:`object_pairs` is the ``object_pairs_hook`` that keeps the keys as written when
  one is repeated (:class:`KeysWritten`); the feeds' NDJSON reader
  (``gateway.inbound.reading``) and :func:`loads` use it.
- :func:`loads` reads a request body, raising :class:`RepeatedKeys` naming where each
  repeated key is (``("body", "transfers", 3, "dni")``), or ``ValueError`` for what is
  not JSON.
- :class:`JSONBodyRoute` is the route class of every router of the API: before FastAPI
  reads a JSON body (``application/json`` or ``application/*+json``), it is read with
  :func:`loads`; a repeated key is refused with 422 ``validation-error`` naming it
  ("repeated"), ``NaN`` and a body that is not JSON with 400 ``bad-request``, as FastAPI
  answers a body it cannot decode. The body is UTF-8 (RFC 8259 §8.1): bytes that are
  not are not JSON, and a ``charset`` naming another encoding is refused with 415.
  A string (key or value) holding a control character other than tab, line feed and
  carriage return is refused with 422 naming it ("control characters are not allowed"):
  PostgreSQL's text cannot hold a NUL, nor can XML 1.0 (a partner's SOAP or ISO 20022
  document) carry the C0 controls; DEL, which XML allows, is refused with them, for no
  person's data has it. An operation that checks each record itself (a payment roll's
  transfers, rejected one by one at intake) sets ``refuses_control_characters`` off.
  These refusals come after the route's other dependencies, as a body that fails its
  schema does: a caller without a valid token gets 401, whatever its body. FastAPI then
  validates the value read, not a second reading of the body.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Coroutine, Iterator
from decimal import Decimal
from email.message import Message
from typing import Any, cast

from fastapi import params, routing
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_parameterless_sub_dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from gateway.core.i18n import N_
from gateway.core.limits import named_key
from gateway.core.problems import UnsupportedMediaType

Location = tuple[str | int, ...]


class KeysWritten(dict[str, Any]):
    """A JSON object with a key written more than once (``json`` keeps its last value,
    silently): ``written``, its keys as written, repeats included."""

    written: list[str]


def object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for ``json.loads``: the object as ``json`` builds it, or a
    :class:`KeysWritten` when a key is repeated."""
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    repeats = KeysWritten(value)
    repeats.written = [key for key, _ in pairs]
    return repeats


class RepeatedKeys(ValueError):
    """A JSON document with a key written twice in one object: ``locations``, where each
    repeated key is (the key named by :func:`gateway.core.limits.named_key`)."""

    def __init__(self, locations: list[Location]) -> None:
        super().__init__("a key is repeated in a JSON object")
        self.locations = locations


def no_constant(name: str) -> Any:
    """``parse_constant`` for ``json.loads``: ``NaN``, ``Infinity`` are not JSON (RFC 8259
    §6), though Python's ``json`` reads them; raises ``ValueError``."""
    raise ValueError(f"{name} is not JSON")


def loads(
    document: bytes | str, root: str = "body", parse_float: Callable[[str], Any] = float
) -> Any:
    """``document`` read as JSON (RFC 8259), refusing what ``json.loads`` lets through;
    numbers with a fraction or an exponent read by ``parse_float`` (``decimal.Decimal``
    keeps ``200.0000000000000001`` and ``1e400`` as written).

    Raises :class:`RepeatedKeys` for a key written twice in an object (every such key
    located from ``root``), ``ValueError`` for text that is not JSON, ``NaN`` or
    ``Infinity`` included (``json.JSONDecodeError``, or ``UnicodeDecodeError`` for bytes
    in no encoding JSON allows), ``RecursionError`` for arrays or objects nested deeper
    than the interpreter's recursion limit (about 1,000)."""
    repeated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        value = object_pairs(items)
        repeated = repeated or isinstance(value, KeysWritten)
        return value

    value = json.loads(
        document, object_pairs_hook=pairs, parse_constant=no_constant, parse_float=parse_float
    )
    if repeated:
        raise RepeatedKeys(list(_repeats(value, (root,))))
    return value


def _repeats(value: Any, where: Location) -> Iterator[Location]:
    """Where each repeated key of ``value`` is, in document order (once per key). A key
    is named by :func:`gateway.core.limits.named_key` with its place as written: the
    repeat's own place, and for a repeated key's value (the last one, which ``json``
    keeps) the last place of the key."""
    if isinstance(value, dict):
        places = {key: n for n, key in enumerate(getattr(value, "written", value), start=1)}
        if isinstance(value, KeysWritten):
            seen: set[str] = set()
            told: set[str] = set()
            for position, key in enumerate(value.written, start=1):
                if key in seen and key not in told:
                    told.add(key)
                    yield (*where, named_key(key, position))
                seen.add(key)
        for key, item in value.items():
            if isinstance(item, dict | list):
                yield from _repeats(item, (*where, named_key(key, places[key])))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                yield from _repeats(item, (*where, index))


def _media(content_type: str) -> Message:
    message = Message()
    message["content-type"] = content_type
    return message


def is_json(media: Message) -> bool:
    """Whether a parsed ``Content-Type`` is one FastAPI reads as JSON:
    ``application/json`` or ``application/<x>+json`` (RFC 6839 §3.1), parameters aside."""
    if media.get_content_maintype() != "application":
        return False
    subtype = media.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def is_utf8(media: Message) -> bool:
    """Whether a JSON ``Content-Type`` leaves the body in UTF-8: no ``charset`` parameter
    (RFC 8259 §11 defines none), or one naming UTF-8."""
    charset = media.get_param("charset")
    if charset is None:
        return True
    try:
        return codecs.lookup(str(charset)).name == "utf-8"
    except LookupError:
        return False


def _not_utf8() -> UnsupportedMediaType:
    return UnsupportedMediaType(
        N_("send JSON in UTF-8 (RFC 8259 §8.1)"),
        extra={"errors": [{"field": "header.content-type", "message": N_("unsupported charset")}]},
    )


class _StrictRequest(Request):
    """A request whose JSON body is read by :func:`loads` (once, then kept)."""

    _read: Any
    parse_float: Callable[[str], Any] = float

    async def json(self) -> Any:
        if not hasattr(self, "_read"):
            # UTF-8 only (RFC 8259 §8.1; json would guess UTF-16 or UTF-32 from the bytes);
            # a byte order mark is ignored, as §8.1 allows.
            text = (await self.body()).decode("utf-8-sig")
            self._read = loads(text, parse_float=self.parse_float)
        return self._read


def _refusal(exc: ValueError | RecursionError) -> RequestValidationError:
    if isinstance(exc, RepeatedKeys):
        return RequestValidationError(
            [{"type": "repeated_key", "loc": loc, "msg": "repeated"} for loc in exc.locations]
        )
    # Answered as FastAPI's own undecodable body: 400, "the body is not JSON".
    return RequestValidationError(
        [{"type": "json_invalid", "loc": ("body", 0), "msg": "JSON decode error", "input": {}}]
    )


# C0 controls but tab, line feed and carriage return (XML 1.0 cannot carry them, nor
# PostgreSQL's text a NUL), and DEL (no person's data has it). Free text keeps its tabs
# and line breaks.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# How such a character can be written in JSON text (RFC 8259 §7: escaped, except DEL).
_MAY_HOLD_CONTROL = re.compile(rb"\\u00[01]|\\u007[fF]|\\[bf]|\x7f")


def _control_characters(body: bytes, value: Any) -> RequestValidationError | None:
    """A 422 naming every string of ``value`` (a key or a value) holding a control
    character :data:`_CONTROL` refuses; None when there is none. The body's text is looked
    at first, so a body without such an escape is not walked."""
    if _MAY_HOLD_CONTROL.search(body) is None:
        return None
    found = list(_holding_control(value, ("body",)))
    if not found:
        return None
    return RequestValidationError(
        [
            {"type": "control_characters", "loc": loc, "msg": "control characters are not allowed"}
            for loc in found
        ]
    )


def _holding_control(value: Any, where: Location) -> Iterator[Location]:
    if isinstance(value, str):
        if _CONTROL.search(value):
            yield where
    elif isinstance(value, dict):
        for position, (key, item) in enumerate(value.items(), start=1):
            place = (*where, named_key(key, position))
            if _CONTROL.search(key):
                yield place
            else:
                yield from _holding_control(item, place)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _holding_control(item, (*where, index))


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class JSONBodyRoute(APIRoute):
    """The API's route class (``APIRouter(route_class=JSONBodyRoute)``): a route that
    takes a JSON body reads it with :func:`loads` (see the module). A form body (the
    token endpoint's) and an empty body (an optional one left out) are left to FastAPI,
    as it reads neither as JSON."""

    #: How the body's numbers with a fraction or an exponent are read.
    parse_float: Callable[[str], Any] = float
    #: Whether a string holding a control character refuses the body (422). False for
    #: an operation that checks each record of its body itself and rejects that record
    #: alone (a payment roll's transfers).
    refuses_control_characters: bool = True

    def get_route_handler(self) -> Handler:
        if self.body_field is None or isinstance(self.body_field.field_info, params.Form):
            return super().get_route_handler()
        # Solved after every other dependency of the route (the caller's token, role),
        # so a body is refused only to a caller the route would otherwise answer.
        dependant = self._dependant()
        if not any(d.call is _body_refused for d in dependant.dependencies):
            dependant.dependencies.append(
                get_parameterless_sub_dependant(
                    depends=params.Depends(_body_refused), path=self.path_format
                )
            )
        handler = super().get_route_handler()
        parse_float = self.parse_float
        refuses_control = self.refuses_control_characters

        async def strict(request: Request) -> Response:
            request = _StrictRequest(request.scope, request.receive)
            request.parse_float = parse_float
            content_type = request.headers.get("content-type")
            media = _media(content_type) if content_type else None
            if media is not None and is_json(media) and await request.body():
                refusal: Exception | None = None
                if not is_utf8(media):
                    refusal = _not_utf8()
                else:
                    try:
                        value = await request.json()
                    except (ValueError, RecursionError) as exc:
                        refusal = _refusal(exc)
                    else:
                        # For the refusal's field names (gateway.core.errors): a key the
                        # client wrote is named by its place when it may be a value.
                        request.state.json_body = value
                        if refuses_control:
                            refusal = _control_characters(await request.body(), value)
                if refusal is not None:
                    # Kept for ``_body_refused``. Meanwhile FastAPI reads a value no body
                    # model accepts, so a refused body can never pass for an absent one.
                    request.state.body_refusal = refusal
                    request._read = _REFUSED
            return await handler(request)

        return strict

    def _dependant(self) -> Dependant:
        """The dependencies FastAPI builds this handler from: the route's own, or, while
        a router that includes the route builds its copy, the copy's (as
        ``APIRoute.get_route_handler`` picks them, FastAPI 0.16x)."""
        context = getattr(routing, "_effective_route_context_var", None)
        effective = context.get() if context is not None else None
        if effective is not None and getattr(effective, "original_route", None) is self:
            return cast(Dependant, effective.dependant)
        return self.dependant


_REFUSED = object()


async def _body_refused(request: Request) -> None:
    """The route's last dependency: raises the refusal :class:`JSONBodyRoute` found in
    the body (415, 400 or 422), once the dependencies before it (authentication, role)
    have let the caller through. Authentication comes first, as for a body that fails
    its schema: RFC 6750 §3.1 answers a request without a valid token with 401, whatever
    it carries."""
    refusal = getattr(request.state, "body_refusal", None)
    if refusal is not None:
        raise refusal


class ExactNumbersRoute(JSONBodyRoute):
    """:class:`JSONBodyRoute` reading every number with a fraction or an exponent as a
    ``decimal.Decimal``, as written: for bodies that carry money (a payment roll's
    amounts), where a binary float would round ``200.0000000000000001`` to ``200.0``
    before it is checked."""

    parse_float = Decimal
