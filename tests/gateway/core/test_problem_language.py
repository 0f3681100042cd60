"""Problem documents speak the reader's language: Spanish unless ``Accept-Language`` asks
for English, with ``type``, ``status`` and field names the same in both."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.gateway import bearer
from tests.fixtures.partners import Mocks, purpose

pytestmark = pytest.mark.partner_mocks

LANGUAGES = [(None, "es"), ("es-PE,es;q=0.9", "es"), ("en", "en"), ("en-GB,en;q=0.9", "en")]


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no ``Accept-Language`` unless a request does."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


def _headers(accept: str | None, **others: str) -> dict[str, str]:
    return {**others, **({"Accept-Language": accept} if accept else {})}


def _in(response: httpx.Response, locale: str) -> dict[str, object]:
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["content-language"] == locale
    assert "accept-language" in response.headers["vary"].lower()
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize(("accept", "locale"), LANGUAGES)
async def test_a_validation_error_names_its_field_in_the_readers_language(
    browser: httpx.AsyncClient, consumer: dict[str, str], accept: str | None, locale: str
) -> None:
    response = await browser.get(
        "/v1/newborns",
        params={"born_from": "2020-03-01", "born_to": "2020-02-01"},
        headers=_headers(accept, **consumer, **purpose("affiliation")),
    )
    assert response.status_code == 422, response.text
    body = _in(response, locale)
    assert body["type"] == "/problems/validation-error"
    assert body["errors"] == [
        {
            "field": "query.born_to",
            "message": {
                "es": "no debe ser anterior a born_from",
                "en": "must not be before born_from",
            }[locale],
        }
    ]
    assert (body["title"], body["detail"]) == {
        "es": ("Solicitud no válida", "campos no válidos: query.born_to"),
        "en": ("Invalid request", "invalid fields: query.born_to"),
    }[locale]


@pytest.mark.parametrize(("accept", "locale"), LANGUAGES)
async def test_the_frameworks_own_checks_speak_the_readers_language(
    browser: httpx.AsyncClient, consumer: dict[str, str], accept: str | None, locale: str
) -> None:
    """Checks the request's declared shape makes before any of the gateway's own (a
    missing header, an entry of the wrong type, a field not in the contract, an empty
    list): each message from the catalog, never the framework's English, and a list's
    entry named by its index as the gateway's own checks name it."""
    headers = _headers(accept, **consumer, **purpose("contact"))
    missing = await browser.get("/v1/persons/60542601", headers=_headers(accept, **consumer))
    assert missing.status_code == 422, missing.text
    assert _in(missing, locale)["errors"] == [
        {"field": "header.X-Purpose", "message": {"es": "obligatorio", "en": "required"}[locale]}
    ]
    wrong = await browser.post(
        "/v1/phone-line-lookups", json={"dnis": [60542601, None], "extra": 1}, headers=headers
    )
    assert wrong.status_code == 422, wrong.text
    errors = _in(wrong, locale)["errors"]
    expected_text = {"es": "se esperaba texto", "en": "expected text"}[locale]
    not_a_field = {
        "es": "no es un campo de esta operación",
        "en": "not a field of this operation",
    }[locale]
    assert errors == [
        {"field": "body.dnis[0]", "message": expected_text},
        {"field": "body.dnis[1]", "message": expected_text},
        {"field": "body.extra", "message": not_a_field},
    ]
    empty = await browser.post("/v1/phone-line-lookups", json={"dnis": []}, headers=headers)
    assert _in(empty, locale)["errors"] == [
        {
            "field": "body.dnis",
            "message": {
                "es": "se esperaba al menos un elemento",
                "en": "expected at least one entry",
            }[locale],
        }
    ]


@pytest.mark.parametrize(("accept", "locale"), LANGUAGES)
async def test_an_invalid_token_is_refused_in_the_readers_language(
    browser: httpx.AsyncClient, accept: str | None, locale: str
) -> None:
    response = await browser.get("/v1/services", headers=_headers(accept, **bearer("nonsense")))
    assert response.status_code == 401, response.text
    body = _in(response, locale)
    assert body["type"] == "/problems/invalid-token"
    assert (body["title"], body["detail"]) == {
        "es": ("Token bearer ausente o no válido", "token mal formado"),
        "en": ("Invalid or missing bearer token", "malformed token"),
    }[locale]
    # The challenge is for OAuth clients, in English whatever the reader's language.
    assert 'error_description="malformed token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(("accept", "locale"), LANGUAGES)
async def test_the_lookup_lane_answers_in_the_readers_language(
    browser: httpx.AsyncClient,
    consumer: dict[str, str],
    mocks: Mocks,
    accept: str | None,
    locale: str,
) -> None:
    """``GET /v1/persons/{dni}`` takes the look-up lane, which answers its problems with
    the app's handler."""
    h = mocks.adult()
    wrong = str((int(h.mother.check_digit) + 1) % 10)
    refused = await browser.get(
        f"/v1/persons/{h.mother.dni}-{wrong}",
        headers=_headers(accept, **consumer, **purpose("affiliation")),
    )
    assert refused.status_code == 422, refused.text
    body = _in(refused, locale)
    assert body["errors"] == [
        {
            "field": "path.dni",
            "message": {
                "es": "el carácter de verificación no corresponde al número",
                "en": "the check character does not match the number",
            }[locale],
        }
    ]
    unknown = await browser.get(
        f"/v1/persons/{h.mother.dni}",
        headers=_headers(accept, **bearer("nonsense"), **purpose("affiliation")),
    )
    assert unknown.status_code == 401
    assert (
        _in(unknown, locale)["title"]
        == {
            "es": "Token bearer ausente o no válido",
            "en": "Invalid or missing bearer token",
        }[locale]
    )


@pytest.mark.parametrize(
    "settings",
    [{"osiptel": {"base_url": "http://127.0.0.1:9", "retries": 1}}],
    indirect=True,
    ids=["closed-port"],
)
@pytest.mark.parametrize(("accept", "locale"), LANGUAGES)
async def test_an_unavailable_partner_is_named_in_the_readers_language(
    browser: httpx.AsyncClient,
    consumer: dict[str, str],
    mocks: Mocks,
    accept: str | None,
    locale: str,
) -> None:
    h = mocks.adult()
    response = await browser.get(
        f"/v1/persons/{h.mother.dni}/phone-lines",
        headers=_headers(accept, **consumer, **purpose("contact")),
    )
    assert response.status_code == 503, response.text
    body = _in(response, locale)
    assert (body["type"], body["partner"]) == ("/problems/partner-unavailable", "osiptel")
    assert (body["title"], body["detail"]) == {
        "es": ("Entidad no disponible", "osiptel, operación lines-by-document: conexión rechazada"),
        "en": ("Partner unavailable", "osiptel lines-by-document: connection refused"),
    }[locale]


@pytest.mark.parametrize(("accept", "locale"), LANGUAGES)
async def test_the_problem_catalog_follows_accept_language(
    browser: httpx.AsyncClient, accept: str | None, locale: str
) -> None:
    response = await browser.get("/problems/rate-limited", headers=_headers(accept))
    assert response.status_code == 200
    assert response.headers["content-language"] == locale
    assert (
        response.json()["title"]
        == {"es": "Demasiadas solicitudes", "en": "Too many requests"}[locale]
    )
    missing = await browser.get("/nowhere", headers=_headers(accept))
    assert (
        _in(missing, locale)["detail"]
        == {
            "es": "no hay ningún recurso en esta dirección",
            "en": "no resource at this address",
        }[locale]
    )


@pytest.mark.parametrize(("accept", "locale"), LANGUAGES)
async def test_a_value_of_the_wrong_form_is_told_the_form_in_words(
    browser: httpx.AsyncClient, consumer: dict[str, str], accept: str | None, locale: str
) -> None:
    """A field refused for its form is told what form is expected, in the reader's
    words, not with the contract's regular expression."""
    response = await browser.get(
        "/v1/persons/60542601",
        headers=_headers(accept, **consumer, **{"X-Purpose": "Contact!", "X-User-Id": "ana maria"}),
    )
    assert response.status_code == 422, response.text
    assert _in(response, locale)["errors"] == [
        {
            "field": "header.X-Purpose",
            "message": {
                "es": "se esperaba: un carácter (a–z), luego hasta 63 caracteres (a–z, 0–9, -)",
                "en": "expected one character (a–z), then up to 63 characters (a–z, 0–9, -)",
            }[locale],
        },
        {
            "field": "header.X-User-Id",
            "message": {
                "es": "se esperaba: de 1 a 64 caracteres (A–Z, a–z, 0–9, . _ @ : -)",
                "en": "expected 1 to 64 characters (A–Z, a–z, 0–9, . _ @ : -)",
            }[locale],
        },
    ]
    assert "^" not in response.text  # no regular expression shown to the reader
