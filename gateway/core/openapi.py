"""The OpenAPI document as clients are generated from it (``contracts/gateway/openapi.yaml``).

FastAPI's document is finished here, so that a generated client (openapi-python-client,
openapi-generator) types every call the way the gateway answers it:

- a parameter that may be left out is a plain string (or integer...), not "string or
  null": HTTP has no null header or query value, and a client typed ``str | None``
  sends the text ``null``;
- every error answer is ``application/problem+json`` (RFC 9457) with the ``Problem``
  schema, and each operation lists the statuses it can answer: 400 and 415 when its
  JSON body is not JSON or not sent as JSON, 401 and 403 when it takes a bearer token,
  429 for the client's quota, besides those its router declares; FastAPI's own 422
  schema (``HTTPValidationError``) is never what the gateway answers, and leaves the
  document. The token endpoint's errors stay RFC 6749 ``application/json`` documents.
"""

from __future__ import annotations

import copy
from typing import Any

from gateway.core.errors import OAUTH_ERROR_SCHEMA, PROBLEM_MEDIA_TYPE
from gateway.core.problems import InvalidToken, RateLimited

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def finish(schema: dict[str, Any]) -> dict[str, Any]:
    """Apply every rule of the module docstring to ``schema`` (changed in place)."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            for parameter in operation.get("parameters", []):
                _not_nullable(parameter)
            _implied_problems(operation)
            _problem_media_type(operation)
    schemas = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def _not_nullable(parameter: dict[str, Any]) -> None:
    """``anyOf: [X, {type: null}]`` of an optional parameter becomes ``X``."""
    schema = parameter.get("schema", {})
    alternatives = schema.get("anyOf")
    if parameter.get("required") or not isinstance(alternatives, list):
        return
    kept = [a for a in alternatives if a != {"type": "null"}]
    if len(kept) != 1 or len(kept) == len(alternatives):
        return
    merged = {k: v for k, v in schema.items() if k != "anyOf"}
    merged.update(kept[0])
    if merged.get("default", 0) is None:
        del merged["default"]
    parameter["schema"] = merged


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}}


def _implied_problems(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    content = operation.get("requestBody", {}).get("content", {})
    implied: dict[str, str] = {}
    if "application/json" in content:
        implied["400"] = "The body is not JSON"
        implied["415"] = "The body is not sent as application/json"
    if operation.get("security"):
        implied["401"] = InvalidToken.type().title
        implied["403"] = "Role or purpose not granted, or not allowed by the catalog"
        implied["429"] = RateLimited.type().title
    for status, description in implied.items():
        if status not in responses:
            responses[status] = _problem(description)
    operation["responses"] = dict(sorted(responses.items()))


def _problem_media_type(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        if status[:1] not in "45":
            continue
        oauth = content.get("application/json", {}).get("schema") == {
            "$ref": f"#/components/schemas/{OAUTH_ERROR_SCHEMA}"
        }
        if "application/json" in content and not oauth:
            content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
        media = content.get(PROBLEM_MEDIA_TYPE, {})
        if media.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
            media["schema"] = _PROBLEM_REF


def document_head(schema: dict[str, Any], templates: tuple[str, ...]) -> dict[str, Any]:
    """A ``head`` operation beside the ``get`` of each path in ``templates`` (the routes
    ``gateway.core.middleware.HeadAsGet`` answers): the GET's parameters, statuses and
    headers, without content (RFC 9110 §9.3.2). Changed in place."""
    for template in templates:
        item = schema.get("paths", {}).get(template)
        if not item or "get" not in item:
            continue
        get = item["get"]
        head: dict[str, Any] = copy.deepcopy(
            {key: value for key, value in get.items() if key not in ("responses", "operationId")}
        )
        head["summary"] = f"{get.get('summary', template)} (headers only)"
        head["operationId"] = f"{get.get('operationId', template)}_head"
        head["responses"] = copy.deepcopy(
            {
                status: {key: value for key, value in response.items() if key != "content"}
                for status, response in get["responses"].items()
            }
        )
        item["head"] = head
    return schema
