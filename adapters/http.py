"""Calling a partner's REST API and translating what goes wrong into typed errors.

Transport failures become :class:`PartnerUnavailable` or :class:`PartnerTimeout`; HTTP
statuses map to the error tree of ``gateway.partners.errors``; a body that is not JSON
(cut in transit) becomes :class:`PartnerMalformed` (transient), and a JSON answer of the
wrong shape :class:`PartnerContractMismatch` (permanent). Messages name the partner,
the operation and the status, never the request or the answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx
import orjson
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions
from multidict import CIMultiDict

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


class PartnerClient(httpx.AsyncClient):
    """httpx's interface (zeep's transport needs it) over aiohttp's connection handling,
    with a short path for the calls the adapters make themselves (:func:`send`).

    Through httpx, a call builds and parses its URL twice, runs the client's auth,
    redirect and cookie machinery, converts the headers both ways and reads the answer
    as a stream of chunks: about a sixth of the gateway's CPU per look-up. :meth:`call`
    hands the method, URL, query, headers and body to the same aiohttp session (same
    pool, same timeouts, the client's default headers), reads the whole answer and
    returns it as an ``httpx.Response`` (status, headers, decoded content). aiohttp's
    errors become the same httpx errors the transport raises, so :func:`transport_error`
    maps them alike. Cookies a partner sets are not kept (no partner uses them)."""

    def __init__(self, *, limits: httpx.Limits, timeout: httpx.Timeout) -> None:
        self._aiohttp = AiohttpTransport(limits=limits)
        super().__init__(transport=self._aiohttp, timeout=timeout, limits=limits)
        # As the transport turns httpx's timeouts into aiohttp's.
        self._call_timeout = aiohttp.ClientTimeout(
            sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
        )

    def _session(self) -> aiohttp.ClientSession:
        session = self._aiohttp.client
        if not isinstance(session, aiohttp.ClientSession):
            # Created on first use, inside the event loop, shared with the transport.
            session = self._aiohttp.client = self._aiohttp.get_client()
        return session

    async def call(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """One request and its whole answer; httpx errors as :meth:`request` raises."""
        sent: CIMultiDict[str] = CIMultiDict(self.headers.items())
        if headers:
            sent.update(headers)
        if json is not None:  # the bytes httpx would send, UTF-8 and compact
            content = orjson.dumps(json)
            sent["Content-Type"] = "application/json"
        with map_aiohttp_exceptions():
            async with self._session().request(
                method,
                url,
                params=params,
                headers=sent,
                data=content or None,
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes, as through the transport
                compress=False,
                timeout=self._call_timeout,
            ) as answer:
                body = await answer.read()
        return httpx.Response(answer.status, headers=answer.raw_headers, content=body)


def _plain(kwargs: dict[str, Any]) -> bool:
    """Whether :meth:`PartnerClient.call` takes these arguments as they are."""
    params = kwargs.get("params")
    return kwargs.keys() <= {"params", "headers", "json", "content"} and (
        params is None
        or (isinstance(params, dict) and all(isinstance(v, str) for v in params.values()))
    )


async def send(
    http: httpx.AsyncClient, partner: str, operation: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    try:
        if isinstance(http, PartnerClient) and _plain(kwargs):
            return await http.call(method, url, **kwargs)
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
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        # What orjson refuses and the standard module reads: a byte order mark (which
        # RFC 8259 section 8.1 lets a parser ignore, and Windows servers send), UTF-16 or
        # UTF-32, NaN. The fast path is for the common answer, not a narrower contract.
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
