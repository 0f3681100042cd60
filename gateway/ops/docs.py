"""The API's reference pages, served without internet: Swagger UI at ``/docs`` and ReDoc
at ``/redoc``, their scripts, styles and icon served by the gateway itself from the
packaged distribution of ``fastapi-offline`` (``/docs/assets/...``), never from a CDN and
without web fonts, so that a browser on a closed network (a ministry's, a field office's)
renders them. ``/`` leads a person to the console (``/console``), whose pages link
here.

FastAPI's own ``/docs`` and ``/redoc`` load their assets from jsDelivr; ``gateway.app``
turns those off and mounts these instead. The pages are not part of the contract.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from gateway.core.jsonbody import JSONBodyRoute

ASSETS_PATH = "/docs/assets"
# The distribution's files: swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js,
# favicon.png.
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
TITLE = "JUNTOS interoperability gateway"

router = APIRouter(route_class=JSONBodyRoute, include_in_schema=False)


def assets() -> StaticFiles:
    """The static files to mount at :data:`ASSETS_PATH`."""
    return StaticFiles(directory=ASSETS_DIR)


@router.get("/", response_class=RedirectResponse)
async def home() -> RedirectResponse:
    """People land on the console's sign-in, which links to these pages."""
    return RedirectResponse("/console", status_code=307)


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=f"{TITLE} (Swagger UI)",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
    )


@router.get(OAUTH2_REDIRECT_URL, response_class=HTMLResponse)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
async def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url=OPENAPI_URL,
        title=f"{TITLE} (ReDoc)",
        redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
        with_google_fonts=False,
    )
