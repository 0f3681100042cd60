"""HEAD on the read-only routes that probes and monitors check: the GET's status and
headers without its body (RFC 9110 §9.3.2); every other route still answers 405."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import HEAD_ROUTES
from tests.fixtures.gateway import ENGLISH, GetToken, bearer
from tests.fixtures.support import serve_on_loopback

PATHS = [template.replace("{slug}", "not-found") for template in HEAD_ROUTES]


@pytest.mark.parametrize("path", PATHS)
async def test_head_answers_as_get_without_the_body(
    app: FastAPI, get_token: GetToken, path: str
) -> None:
    headers = bearer(await get_token(["consumer"])) if path == "/v1/services" else {}
    async with (
        serve_on_loopback(app) as url,
        httpx.AsyncClient(base_url=url, headers=ENGLISH) as real,
    ):
        get = await real.get(path, headers=headers)
        head = await real.head(path, headers=headers)
    assert head.status_code == get.status_code
    assert head.content == b""
    assert head.headers.get("content-type") == get.headers.get("content-type")
    if "content-length" in get.headers and path != "/metrics":  # metrics move between reads
        assert head.headers["content-length"] == get.headers["content-length"]


async def test_head_without_a_token_is_refused_as_get_is(http: httpx.AsyncClient) -> None:
    head = await http.head("/v1/services")
    assert head.status_code == (await http.get("/v1/services")).status_code == 401


async def test_other_routes_still_refuse_head_and_allow_names_it_where_answered(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    # A look-up would call a partner and record an audit event for an answer thrown away.
    lookup = await http.head("/v1/persons/60542601", headers=bearer(await get_token(["consumer"])))
    assert lookup.status_code == 405
    assert "HEAD" not in lookup.headers["allow"]
    wrong = await http.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD"


async def test_head_is_logged_and_counted_under_its_route(
    http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (await http.head("/problems/not-found")).status_code == 200
    logged = capsys.readouterr().out
    assert "method=HEAD" in logged
    assert "route=/problems/{slug}" in logged
    metrics = (await http.get("/metrics")).text
    assert 'method="HEAD",route="/problems/{slug}",status="200"' in metrics
