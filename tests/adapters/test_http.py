"""The partner client's short path (``PartnerClient.call``, taken by ``adapters.http.send``)
against httpx's own path through the same aiohttp transport: over real loopback sockets,
the same request reaches the partner, the same answer comes back, and what goes wrong
below HTTP maps to the same partner error."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from adapters.http import PartnerClient, request_json, send
from gateway.partners.errors import (
    PartnerError,
    PartnerMalformed,
    PartnerTimeout,
    PartnerUnavailable,
)

TIMEOUT = httpx.Timeout(0.5, connect=0.5, pool=0.5)
LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)


class Seen:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []


SEEN = web.AppKey("seen", Seen)


async def _answer(request: web.Request) -> web.StreamResponse:
    seen = request.app[SEEN]
    body = await request.read()
    seen.requests.append(
        {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "body": body,
            "content-type": request.headers.get("content-type"),
            "api-key": request.headers.get("x-api-key"),
        }
    )
    kind = request.match_info["kind"]
    if kind == "json":
        return web.json_response({"lineas": [{"numero": "999000111", "empresa": "Ñandú"}]})
    if kind == "gzip":
        packed = gzip.compress(json.dumps({"ok": True}).encode())
        return web.Response(
            body=packed,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
    if kind == "problem":
        return web.Response(
            status=404,
            text=json.dumps({"status": 404, "codigo": "NO_EXISTE"}),
            content_type="application/problem+json",
        )
    if kind in ("bom", "utf16", "nan", "garbage"):
        text = {
            "bom": '\ufeff{"ok": true}',
            "utf16": '{"ok": true}',
            "nan": '{"ok": true, "peso": NaN}',
            "garbage": '{"ok": tru',
        }[kind]
        encoded = text.encode("utf-16" if kind == "utf16" else "utf-8")
        return web.Response(body=encoded, headers={"Content-Type": "application/json"})
    if kind == "limited":
        return web.Response(status=429, headers={"Retry-After": "7"})
    await asyncio.sleep(2)  # "slow": longer than the read timeout
    return web.Response(text="late")


@pytest.fixture
async def partner() -> AsyncIterator[tuple[str, Seen]]:
    app = web.Application()
    app[SEEN] = seen = Seen()
    app.router.add_route("*", "/{kind}", _answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[PartnerClient]:
    http = PartnerClient(limits=LIMITS, timeout=TIMEOUT)
    try:
        yield http
    finally:
        await http.aclose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _both(http: PartnerClient, method: str, url: str, **kwargs: Any) -> list[Any]:
    """The short path's answer, then httpx's own."""
    return [
        await send(http, "osiptel", "op", method, url, **kwargs),
        await http.request(method, url, **kwargs),
    ]


@pytest.mark.parametrize(
    ("method", "kind", "kwargs"),
    [
        ("GET", "json", {"params": {"tipoDocumento": "DNI", "numeroDocumento": "40000001"}}),
        ("POST", "json", {"json": {"documentos": [{"numeroDocumento": "40000001"}]}}),
        ("POST", "json", {"content": b"<x/>", "headers": {"Content-Type": "text/xml"}}),
        ("GET", "gzip", {}),
        ("GET", "problem", {}),
        ("GET", "limited", {}),
    ],
)
async def test_the_short_path_sends_and_reads_what_httpx_does(
    partner: tuple[str, Seen], client: PartnerClient, method: str, kind: str, kwargs: Any
) -> None:
    base, seen = partner
    kwargs.setdefault("headers", {})["X-Api-Key"] = "k"
    short, full = await _both(client, method, f"{base}/{kind}", **kwargs)
    assert seen.requests[0] == seen.requests[1]
    assert short.status_code == full.status_code
    assert short.content == full.content
    assert short.headers.get("content-type") == full.headers.get("content-type")
    assert short.headers.get("retry-after") == full.headers.get("retry-after")
    if kind == "gzip":
        assert short.json() == {"ok": True}


@pytest.mark.parametrize("kind", ["bom", "utf16", "nan"])
async def test_an_answer_reads_as_the_standard_json_module_reads_it(
    partner: tuple[str, Seen], client: PartnerClient, kind: str
) -> None:
    """The fast JSON reader does not narrow what a partner may answer: a byte order
    mark (RFC 8259 section 8.1), UTF-16, NaN are read as before."""
    base, _ = partner
    status, body = await request_json(client, "osiptel", "op", "GET", f"{base}/{kind}")
    assert status == 200
    assert body["ok"] is True
    if kind == "nan":
        assert math.isnan(body["peso"])


async def test_an_answer_that_is_not_json_is_malformed(
    partner: tuple[str, Seen], client: PartnerClient
) -> None:
    base, _ = partner
    with pytest.raises(PartnerMalformed):
        await request_json(client, "osiptel", "op", "GET", f"{base}/garbage")


async def _error(pending: Any) -> PartnerError:
    with pytest.raises(PartnerError) as raised:
        await pending
    return raised.value


async def test_a_refused_connection_maps_alike(client: PartnerClient) -> None:
    url = f"http://127.0.0.1:{_free_port()}/json"
    short = await _error(send(client, "osiptel", "op", "GET", url))
    httpx_path = httpx.AsyncClient(transport=client._transport, timeout=TIMEOUT)
    full = await _error(send(httpx_path, "osiptel", "op", "GET", url))
    assert type(short) is type(full) is PartnerUnavailable
    assert short.detail == full.detail == "connection refused"


async def test_no_answer_in_time_maps_alike(
    partner: tuple[str, Seen], client: PartnerClient
) -> None:
    base, _ = partner
    short = await _error(send(client, "osiptel", "op", "GET", f"{base}/slow"))
    httpx_path = httpx.AsyncClient(transport=client._transport, timeout=TIMEOUT)
    full = await _error(send(httpx_path, "osiptel", "op", "GET", f"{base}/slow"))
    assert type(short) is type(full) is PartnerTimeout
    assert short.detail == full.detail
