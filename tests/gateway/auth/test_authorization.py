"""Roles and purposes: what a client may see and do, from the catalog."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.gateway import GetToken, bearer


async def test_services_lists_only_granted_services_purposes_and_fields(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    token = await get_token(["consumer"], ["contact"])
    body = (await http.get("/v1/services", headers=bearer(token))).json()
    services = {s["id"]: s for s in body["services"]}
    assert set(services) == {
        "reniec.person",
        "osiptel.phone-lines",
        "osiptel.line-notices",
        "osiptel.lines-refresh",
        "gateway.consent-check",
    }
    phone = services["osiptel.phone-lines"]
    assert phone["purposes"] == [
        {
            "purpose": "contact",
            "legal_basis": "du-095-2020-art6",
            "legal_basis_citation": "DU 095-2020 art. 6",
            "consent_required": False,
            "fields": ["number", "operator", "modality"],
        }
    ]
    # For contact, the identity service discloses the name only, never the address.
    assert services["reniec.person"]["purposes"][0]["fields"] == ["dni", "given_names"]


async def test_consent_bound_services_are_marked(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    token = await get_token(["consumer"], ["coresponsibility-verification"])
    body = (await http.get("/v1/services", headers=bearer(token))).json()
    required = {s["id"]: s["purposes"][0]["consent_required"] for s in body["services"]}
    assert required == {
        "minsa_his.health-services": True,
        "minsa_his.coresponsibility": True,
        "minsa_his.record-notices": True,
        "minsa_his.health-extract": True,
        # Asking whether consent exists does not itself need consent.
        "gateway.consent-check": False,
    }


async def test_auditor_sees_audit_service_only(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    token = await get_token(["auditor"], ["audit"])
    body = (await http.get("/v1/services", headers=bearer(token))).json()
    assert [s["id"] for s in body["services"]] == [
        "gateway.audit-events",
        "gateway.audit-verification",
        "gateway.audit-checkpoints",
        "gateway.subject-disclosures",
    ]


async def test_purpose_outside_grants_is_403(http: httpx.AsyncClient, get_token: GetToken) -> None:
    token = await get_token(["consumer"], ["contact"])
    response = await http.get("/v1/services?purpose=payment", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/purpose-not-granted"
    assert response.json()["detail"] == "client is not registered for purpose 'payment'"
    allowed = await http.get("/v1/services?purpose=contact", headers=bearer(token))
    assert allowed.status_code == 200


async def test_role_outside_grants_is_403(http: httpx.AsyncClient, get_token: GetToken) -> None:
    token = await get_token(["consumer"], ["contact"])
    for method, path in [("GET", "/v1/clients"), ("POST", "/v1/clients/cl_x/disable")]:
        response = await http.request(method, path, headers=bearer(token))
        assert response.status_code == 403, path
        assert response.json()["type"] == "/problems/role-not-granted"


async def test_admin_manages_clients_over_http(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    admin = await get_token(["admin"])
    created = await http.post(
        "/v1/clients",
        headers=bearer(admin),
        json={"name": "SISFOH", "roles": ["consumer"], "purposes": ["affiliation"]},
    )
    assert created.status_code == 201
    body = created.json()
    assert body["client_secret"]
    assert body["active"] is True
    listed = (await http.get("/v1/clients", headers=bearer(admin))).json()["clients"]
    entry = next(c for c in listed if c["id"] == body["id"])
    assert "client_secret" not in entry
    assert "secret_hash" not in entry
    token = await http.post(
        "/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": body["id"],
            "client_secret": body["client_secret"],
        },
    )
    assert token.status_code == 200


async def test_client_with_unknown_purpose_is_rejected_naming_the_field(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    admin = await get_token(["admin"])
    response = await http.post(
        "/v1/clients",
        headers=bearer(admin),
        json={"name": "x", "roles": ["consumer"], "purposes": ["marketing"]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.purposes"


@pytest.mark.parametrize(
    ("accept_language", "locale", "description"),
    [
        (None, "es", "Líneas móviles registradas a nombre de un documento."),
        ("en-GB,en;q=0.8", "en", "Mobile lines registered to a document."),
        ("fr-FR, en;q=0.5", "en", "Mobile lines registered to a document."),
        ("fr, de;q=0.5", "es", "Líneas móviles registradas a nombre de un documento."),
        ("es-PE", "es", "Líneas móviles registradas a nombre de un documento."),
    ],
)
async def test_services_are_described_in_the_readers_language(
    http: httpx.AsyncClient,
    get_token: GetToken,
    accept_language: str | None,
    locale: str,
    description: str,
) -> None:
    token = await get_token(["consumer"], ["contact"])
    request = http.build_request("GET", "/v1/services", headers=bearer(token))
    del request.headers["Accept-Language"]  # the fixture's client asks for English
    if accept_language is not None:
        request.headers["Accept-Language"] = accept_language
    response = await http.send(request)
    assert response.status_code == 200
    assert response.headers["content-language"] == locale
    assert "accept-language" in response.headers["vary"].lower()
    services = {s["id"]: s for s in response.json()["services"]}
    assert services["osiptel.phone-lines"]["description"] == description
