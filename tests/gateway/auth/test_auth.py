"""Tokens: issuance, verification by third parties, every way a bad token is refused,
rotation, persistence and immediate effect of disabling a client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey

from gateway.core.db import transaction
from gateway.state import AppState
from tests.fixtures.gateway import GetToken, MakeClient, bearer
from tests.fixtures.tokens import b64url, b64url_decode, parts


def verify_with_jwk(token: str, jwk: dict[str, Any]) -> bool:
    """Verify an ES256 JWS with nothing but `cryptography`, as a third party would."""
    signing_input, _, signature = token.rpartition(".")
    raw = b64url_decode(signature)
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64url_decode(jwk["x"]), "big"),
        int.from_bytes(b64url_decode(jwk["y"]), "big"),
        ec.SECP256R1(),
    )
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        numbers.public_key().verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


async def sign_with_gateway_key(app: FastAPI, claims: dict[str, Any]) -> str:
    state: AppState = app.state.gateway
    async with transaction(state.sessions) as session:
        active = await state.keys.signing_key(session)
    return jwt.encode({"alg": "ES256", "kid": active.kid}, claims, active.key, algorithms=["ES256"])


async def test_client_credentials_grant_returns_es256_token_verifiable_with_jwks(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    creds = await make_client(["consumer"], ["contact", "payment"])
    response = await http.post(
        "/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    header, claims = parts(body["access_token"])
    assert header["alg"] == "ES256"
    assert claims["client_id"] == creds.client_id
    assert claims["roles"] == ["consumer"]
    assert claims["purposes"] == ["contact", "payment"]
    assert claims["exp"] - claims["iat"] == 900

    jwks = (await http.get("/.well-known/jwks.json")).json()
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert "d" not in key, "the JWKS must never publish the private part"
    assert verify_with_jwk(body["access_token"], key)


async def test_wrong_secret_and_unknown_client_are_invalid_client(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    creds = await make_client(["consumer"], ["contact"])
    for client_id, secret in [(creds.client_id, "wrong"), ("cl_doesnotexist", "x")]:
        response = await http.post(
            "/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        assert response.status_code == 401
        # RFC 6749 §5.2: token endpoint errors are application/json, not problem documents.
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic realm=")


async def test_token_request_names_missing_fields_and_bad_grant(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/token", data={"grant_type": "client_credentials"})
    # RFC 6749 §5.2: a request without client authentication is invalid_client (401).
    assert response.status_code == 401
    problem = response.json()
    assert problem["error"] == "invalid_client"
    assert {e["field"] for e in problem["errors"]} == {"client_id", "client_secret"}

    response = await http.post(
        "/v1/token", data={"grant_type": "password", "client_id": "a", "client_secret": "b"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert response.json()["errors"][0]["field"] == "grant_type"


async def test_bad_tokens_get_401(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    good = await get_token(["consumer"], ["contact"])
    header, claims = parts(good)
    now = int(time.time())
    signing_input = good.rsplit(".", 1)[0]

    expired = await sign_with_gateway_key(
        app, {**claims, "iat": now - 2000, "nbf": now - 2000, "exp": now - 1100}
    )
    too_long = await sign_with_gateway_key(app, {**claims, "exp": now + 86400})
    not_yet_valid = await sign_with_gateway_key(
        app, {**claims, "iat": now + 600, "nbf": now + 600, "exp": now + 1200}
    )
    other_audience = await sign_with_gateway_key(app, {**claims, "aud": "another-gateway"})
    other_issuer = await sign_with_gateway_key(app, {**claims, "iss": "https://elsewhere"})
    foreign_key = ECKey.generate_key("P-256")
    forged = jwt.encode(
        {"alg": "ES256", "kid": header["kid"]}, claims, foreign_key, algorithms=["ES256"]
    )
    unknown_kid = jwt.encode(
        {"alg": "ES256", "kid": "not-ours"}, claims, foreign_key, algorithms=["ES256"]
    )
    none_alg = (
        b64url(json.dumps({"alg": "none", "kid": header["kid"]}).encode())
        + "."
        + signing_input.split(".")[1]
        + "."
    )
    # The classic confusion attack: HS256 keyed with the published public key.
    jwks = (await http.get("/.well-known/jwks.json")).json()
    public_jwk = json.dumps(next(k for k in jwks["keys"] if k["kid"] == header["kid"]))
    hs_input = (
        b64url(json.dumps({"alg": "HS256", "kid": header["kid"]}).encode())
        + "."
        + signing_input.split(".")[1]
    )
    hs256 = (
        hs_input
        + "."
        + b64url(hmac.new(public_jwk.encode(), hs_input.encode(), hashlib.sha256).digest())
    )
    tampered_claims = b64url(json.dumps({**claims, "roles": ["admin"]}).encode())
    tampered = f"{signing_input.split('.')[0]}.{tampered_claims}.{good.rsplit('.', 1)[1]}"

    cases = {
        "missing": {},
        "not bearer": {"Authorization": f"Basic {good}"},
        "empty bearer": {"Authorization": "Bearer "},
        "malformed": bearer("not-a-jwt"),
        "garbage segments": bearer("a.b.c"),
        "expired": bearer(expired),
        "lifetime too long": bearer(too_long),
        "not yet valid": bearer(not_yet_valid),
        "wrong audience": bearer(other_audience),
        "wrong issuer": bearer(other_issuer),
        "wrong signature": bearer(forged),
        "unknown kid": bearer(unknown_kid),
        "alg none": bearer(none_alg),
        "hs256 with public key": bearer(hs256),
        "tampered claims": bearer(tampered),
    }
    for case, headers in cases.items():
        response = await http.get("/v1/services", headers=headers)
        assert response.status_code == 401, case
        assert response.headers["content-type"] == "application/problem+json", case
        assert response.json()["type"] == "/problems/invalid-token", case
        assert response.headers["www-authenticate"].startswith("Bearer"), case

    assert (await http.get("/v1/services", headers=bearer(good))).status_code == 200


async def test_disabled_client_tokens_stop_working_at_once(
    http: httpx.AsyncClient, get_token: GetToken, make_client: MakeClient
) -> None:
    admin = await get_token(["admin"])
    creds = await make_client(["consumer"], ["contact"])
    token = (
        await http.post(
            "/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
        )
    ).json()["access_token"]
    assert (await http.get("/v1/services", headers=bearer(token))).status_code == 200

    disabled = await http.post(f"/v1/clients/{creds.client_id}/disable", headers=bearer(admin))
    assert disabled.status_code == 200
    assert disabled.json()["active"] is False

    assert (await http.get("/v1/services", headers=bearer(token))).status_code == 401
    again = await http.post(
        "/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    )
    assert again.status_code == 401


# ------------------------------------------------- RFC 6749 token endpoint details

GRANT = {"grant_type": "client_credentials"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store", response.request.content
    assert response.headers["pragma"] == "no-cache", response.request.content


async def test_basic_credentials_are_form_urlencoded_per_rfc6749(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic joins them; a
    client that encodes every character is understood, as is one that encodes none."""
    creds = await make_client(["consumer"], ["contact"])
    encoded_id = "".join(f"%{b:02X}" for b in creds.client_id.encode())
    encoded_secret = "".join(f"%{b:02X}" for b in creds.client_secret.encode())
    for client_id, secret in [
        (encoded_id, encoded_secret),
        (creds.client_id, creds.client_secret),
    ]:
        response = await http.post("/v1/token", headers=basic(client_id, secret), data=GRANT)
        assert response.status_code == 200, response.text
        assert parts(response.json()["access_token"])[1]["client_id"] == creds.client_id
        assert_no_store(response)


async def test_both_authentication_methods_at_once_is_invalid_request(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    creds = await make_client(["consumer"], ["contact"])
    response = await http.post(
        "/v1/token",
        headers=basic(creds.client_id, creds.client_secret),
        data={**GRANT, "client_id": creds.client_id, "client_secret": creds.client_secret},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["errors"][0]["field"] == "client_secret"
    assert_no_store(response)
    # The client_id alone beside Basic is not a second method (RFC 6749 §3.2.1 allows
    # it), but it must name the same client.
    same = await http.post(
        "/v1/token",
        headers=basic(creds.client_id, creds.client_secret),
        data={**GRANT, "client_id": creds.client_id},
    )
    assert same.status_code == 200
    other = await http.post(
        "/v1/token",
        headers=basic(creds.client_id, creds.client_secret),
        data={**GRANT, "client_id": "cl_someoneelse"},
    )
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_request"


async def test_bad_client_authentication_is_invalid_client_with_basic_challenge(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    creds = await make_client(["consumer"], ["contact"])
    cases = {
        "wrong secret": basic(creds.client_id, "wrong"),
        "unknown client": basic("cl_doesnotexist", creds.client_secret),
        "not base64": {"Authorization": "Basic !!!not-base64!!!"},
        "no colon": {"Authorization": "Basic " + base64.b64encode(b"justanid").decode()},
        "empty secret": basic(creds.client_id, ""),
        "bearer at the token endpoint": {"Authorization": "Bearer abc"},
    }
    for case, headers in cases.items():
        response = await http.post("/v1/token", headers=headers, data=GRANT)
        assert response.status_code == 401, case
        assert response.headers["content-type"] == "application/json", case
        assert response.json()["error"] == "invalid_client", case
        assert response.headers["www-authenticate"].startswith('Basic realm="juntos-gateway"')
        assert creds.client_secret not in response.text, case
        assert_no_store(response)


async def test_repeated_parameters_are_invalid_request(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    creds = await make_client(["consumer"], ["contact"])
    body = (
        f"grant_type=client_credentials&client_id={creds.client_id}"
        f"&client_secret={creds.client_secret}&scope=contact&scope=payment"
    )
    response = await http.post(
        "/v1/token",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["errors"] == [{"field": "scope", "message": "repeated"}]
    assert_no_store(response)


async def test_scope_narrows_the_token_to_granted_purposes(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    creds = await make_client(["consumer"], ["contact", "payment"])
    auth = basic(creds.client_id, creds.client_secret)

    async def token(scope: str | None) -> httpx.Response:
        form = GRANT if scope is None else {**GRANT, "scope": scope}
        return await http.post("/v1/token", headers=auth, data=form)

    for scope, expected in [
        (None, ["contact", "payment"]),
        ("", ["contact", "payment"]),
        ("payment", ["payment"]),
        ("payment  contact payment", ["contact", "payment"]),
    ]:
        response = await token(scope)
        assert response.status_code == 200, (scope, response.text)
        assert_no_store(response)
        assert response.json()["scope"] == " ".join(expected), scope
        claims = parts(response.json()["access_token"])[1]
        assert claims["purposes"] == expected, scope
        assert claims["scope"] == " ".join(expected), scope

    narrowed = (await token("payment")).json()["access_token"]
    allowed = await http.get("/v1/services?purpose=payment", headers=bearer(narrowed))
    assert allowed.status_code == 200
    # A purpose the client holds but the token was not asked for is refused, as RFC 6750
    # §3.1 insufficient_scope.
    refused = await http.get("/v1/services?purpose=contact", headers=bearer(narrowed))
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/purpose-not-granted"
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="contact"' in challenge
    # The detail says the token, not the client, lacks the purpose, and what to ask for.
    assert refused.json()["detail"] == (
        "the token was not issued for purpose 'contact': ask for a token with scope 'contact'"
    )

    for scope in ["marketing", "contact affiliation", "contact \\x"]:
        response = await token(scope)
        assert response.status_code == 400, scope
        assert response.json()["error"] == "invalid_scope", scope
        assert_no_store(response)


async def test_admin_without_purposes_may_not_ask_for_one(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    creds = await make_client(["admin"])
    auth = basic(creds.client_id, creds.client_secret)
    plain = await http.post("/v1/token", headers=auth, data=GRANT)
    assert plain.status_code == 200
    assert "scope" not in plain.json()
    asked = await http.post("/v1/token", headers=auth, data={**GRANT, "scope": "audit"})
    assert asked.json()["error"] == "invalid_scope"


async def test_grant_errors_are_rfc6749_json_without_store(http: httpx.AsyncClient) -> None:
    for form, error in [
        ({}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
    ]:
        response = await http.post("/v1/token", data=form)
        assert response.status_code == 400, form
        assert response.headers["content-type"] == "application/json", form
        body = response.json()
        assert body["error"] == error, form
        assert isinstance(body["error_description"], str), form
        assert "www-authenticate" not in response.headers, form
        assert_no_store(response)


async def test_metadata_points_at_this_gateway_when_issuer_is_not_a_url(
    http: httpx.AsyncClient,
) -> None:
    """The sandbox's issuer is a name, not a URL: endpoints are where the request came."""
    response = await http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == "juntos-gateway"
    assert metadata["token_endpoint"] == "http://gateway.test/v1/token"
    assert metadata["jwks_uri"] == "http://gateway.test/.well-known/jwks.json"
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]


async def test_bearer_challenges_follow_rfc6750(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    missing = await http.get("/v1/services")
    assert missing.status_code == 401
    # §3.1: no error code when the request carried no token at all.
    assert missing.headers["www-authenticate"] == 'Bearer realm="juntos-gateway"'
    wrong = await http.get("/v1/services", headers=bearer("not-a-jwt"))
    assert wrong.status_code == 401
    challenge = wrong.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="juntos-gateway", error="invalid_token"')
    assert 'error_description="malformed token"' in challenge
    good = await get_token(["consumer"], ["contact"])
    assert (await http.get("/v1/services", headers=bearer(good))).status_code == 200
