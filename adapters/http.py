"""Calling a partner's REST API and translating what goes wrong into typed errors.

Transport failures become :class:`PartnerUnavailable` or :class:`PartnerTimeout`; HTTP
statuses map to the error tree of ``gateway.partners.errors``; a body that is not JSON
(cut in transit) becomes :class:`PartnerMalformed` (transient), and a JSON answer of the
wrong shape :class:`PartnerContractMismatch` (permanent). Messages name the partner,
the operation and the status, never the request or the answer.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import httpx

from gateway.identifiers import is_ascii_digits
from gateway.partners.errors import (
    PartnerContractMismatch,
    PartnerError,
    PartnerInvalidInput,
    PartnerMalformed,
    PartnerNotFound,
    PartnerRefused,
    PartnerTimeout,
    PartnerUnavailable,
)


def transport_error(partner: str, operation: str, exc: httpx.HTTPError) -> PartnerError:
    # httpx-aiohttp reports a refused connection as ConnectTimeout; the cause tells.
    if isinstance(exc.__cause__, aiohttp.ClientConnectorError) and not isinstance(
        exc.__cause__, aiohttp.ServerTimeoutError
    ):
        return PartnerUnavailable(partner, operation, "connection refused")
    if isinstance(exc, httpx.TimeoutException):
        return PartnerTimeout(partner, operation, f"no answer in time ({type(exc).__name__})")
    return PartnerUnavailable(partner, operation, f"transport failure ({type(exc).__name__})")


def status_error(partner: str, operation: str, response: httpx.Response) -> PartnerError:
    status = response.status_code
    code = _problem_code(response)
    detail = f"HTTP {status}" + (f" {code}" if code else "")
    if status == 404:
        return PartnerNotFound(partner, operation, detail)
    if status in (400, 409, 422):
        return PartnerInvalidInput(partner, operation, detail)
    if status in (401, 403):
        return PartnerRefused(partner, operation, detail)
    if status == 429:
        retry = response.headers.get("retry-after", "")
        return PartnerRefused(
            partner, operation, detail, retry_after=int(retry) if is_ascii_digits(retry) else 60
        )
    return PartnerUnavailable(partner, operation, detail)


def _problem_code(response: httpx.Response) -> str | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("codigo") if isinstance(body, dict) else None
    return code if isinstance(code, str) and code.isupper() and len(code) <= 40 else None


async def send(
    http: httpx.AsyncClient, partner: str, operation: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    try:
        return await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise transport_error(partner, operation, exc) from None


async def request_json(
    http: httpx.AsyncClient,
    partner: str,
    operation: str,
    method: str,
    url: str,
    *,
    ok: tuple[int, ...] = (200,),
    **kwargs: Any,
) -> tuple[int, dict[str, Any]]:
    response = await send(http, partner, operation, method, url, **kwargs)
    if response.status_code not in ok:
        raise status_error(partner, operation, response)
    try:
        body = json.loads(response.content)
    except ValueError:
        raise PartnerMalformed(partner, operation, "answer is not valid JSON") from None
    if not isinstance(body, dict):
        raise PartnerContractMismatch(partner, operation, "answer is not a JSON object")
    return response.status_code, body


def field(body: dict[str, Any], name: str, kind: type, partner: str, operation: str) -> Any:
    value = body.get(name)
    if not isinstance(value, kind):
        raise PartnerContractMismatch(partner, operation, f"answer lacks {name}")
    return value
