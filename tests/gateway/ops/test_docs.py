"""The reference pages render on a closed network: every script, style and icon of
``/docs`` and ``/redoc`` is served by the gateway itself, none from a CDN or a font host."""

from __future__ import annotations

import re

import httpx
import pytest

ASSET = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")
EXTERNAL = re.compile(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", re.IGNORECASE)


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
async def test_reference_pages_load_everything_from_the_gateway(
    http: httpx.AsyncClient, page: str, assets: set[str]
) -> None:
    answer = await http.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    referenced = {a or b for a, b in ASSET.findall(html)}
    assert {url.rsplit("/", 1)[-1] for url in referenced if "/docs/assets/" in url} == assets
    assert "/openapi.json" in referenced
    for url in referenced:
        fetched = await http.get(url)
        assert fetched.status_code == 200, url
        assert fetched.content, url


async def test_the_scripts_are_the_real_distributions(http: httpx.AsyncClient) -> None:
    swagger = await http.get("/docs/assets/swagger-ui-bundle.js")
    assert swagger.headers["content-type"].split(";")[0] in {
        "application/javascript",
        "text/javascript",
    }
    assert len(swagger.content) > 500_000
    assert b"SwaggerUIBundle" in swagger.content
    redoc = await http.get("/docs/assets/redoc.standalone.js")
    assert b"Redoc" in redoc.content


async def test_home_leads_to_the_console_which_links_the_reference(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get("/")
    assert answer.status_code == 307
    assert answer.headers["location"] == "/console"
    sign_in = await http.get("/console/login")
    assert 'href="/docs"' in sign_in.text
    assert 'href="/redoc"' in sign_in.text


async def test_a_missing_asset_is_a_plain_404(http: httpx.AsyncClient) -> None:
    answer = await http.get("/docs/assets/no-such.js")
    assert answer.status_code == 404
