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

from gateway.app import create_app
from gateway.core.db import transaction
from gateway.settings import Settings
from gateway.state import AppState
from tests.conftest import GetToken, MakeClient, bearer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


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


async def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_new_key(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    old = await get_token(["consumer"], ["contact"])
    old_kid = parts(old)[0]["kid"]
    state: AppState = app.state.gateway
    async with transaction(state.sessions) as session:
        new_record = await state.keys.rotate(session)

    new = await get_token(["consumer"], ["contact"])
    assert parts(new)[0]["kid"] == new_record.kid != old_kid
    kids = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_record.kid} <= kids
    for token in (old, new):
        assert (await http.get("/v1/services", headers=bearer(token))).status_code == 200


async def test_keys_persist_across_restarts(settings: Settings, get_token: GetToken) -> None:
    token = await get_token(["consumer"], ["contact"])
    kid = parts(token)[0]["kid"]
    restarted = create_app(settings)
    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http2:
            assert (await http2.get("/v1/services", headers=bearer(token))).status_code == 200
            jwks = (await http2.get("/.well-known/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == [kid]


async def test_private_signing_key_is_sealed_at_rest(app: FastAPI, get_token: GetToken) -> None:
    await get_token(["consumer"], ["contact"])
    state: AppState = app.state.gateway
    async with transaction(state.sessions) as session:
        active = await state.keys.signing_key(session)
        from gateway.keys.repository import SigningKeyRepository

        record = await SigningKeyRepository(session).get(active.kid)
    assert record is not None
    assert b"PRIVATE KEY" not in record.private_key_sealed
    assert active.key.as_pem(private=True) not in record.private_key_sealed
