"""Signing in at an OpenID Connect identity provider (a ministry's), when
``GATEWAY_CONSOLE__OIDC_ISSUER`` and ``__OIDC_CLIENT_ID`` are set.

The authorization code flow with PKCE (RFC 7636, S256) and a nonce: ``start`` sends the
browser to the provider with a fresh ``state``; the provider sends it back to
``/console/login/oidc/callback`` with a code, exchanged at the token endpoint (client
secret by HTTP Basic). The ID token is checked against the provider's published keys
(``jwks_uri``): signature, ``iss``, ``aud``, ``exp`` and the nonce. The username, roles
and partner come from its claims (``GATEWAY_CONSOLE__OIDC_*_CLAIM``), roles through
``OIDC_ROLE_MAP``; the console account is created or updated to match, then a console
session opens as after a password sign-in.

The flow's secrets (state, nonce, PKCE verifier, where to go after) travel in a cookie
sealed with a key derived from the master key (HMAC-SHA256), valid ten minutes. It is
``SameSite=Lax``, not ``Strict``: the provider's redirect back is a navigation from
another site, which would not carry a strict cookie; it holds no session and is good for
one callback only.

Errors: :class:`OidcRefused` with a short English reason for the audit event (the page
shows one message whatever the reason). The provider's metadata and keys are cached in
the process for an hour (a cache only; nothing depends on it for correctness).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from gateway.console.service import ROLES
from gateway.settings import ConsoleSettings

FLOW_COOKIE = "console_oidc"
FLOW_PATH = "/console/login/oidc"
FLOW_SECONDS = 600
CALLBACK = "/console/login/oidc/callback"
_CACHE_SECONDS = 3600
_cache: dict[str, tuple[float, Any]] = {}


class OidcRefused(Exception):
    """The provider's answer was not accepted; ``str(exc)`` says why (for the audit)."""


@dataclass(frozen=True)
class Identity:
    username: str
    display_name: str
    roles: list[str]
    partner: str | None


def _seal_key(master_key: bytes) -> bytes:
    return hmac.new(master_key, b"console-oidc-flow", hashlib.sha256).digest()


def seal(master_key: bytes, flow: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(flow, separators=(",", ":")).encode()).decode()
    mac = hmac.new(_seal_key(master_key), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def unseal(master_key: bytes, sealed: str | None) -> dict[str, Any]:
    if not sealed or "." not in sealed:
        raise OidcRefused("no sign-in in progress")
    body, _, mac = sealed.rpartition(".")
    expected = hmac.new(_seal_key(master_key), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        raise OidcRefused("flow cookie altered")
    flow: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body))
    if flow.get("exp", 0) < time.time():
        raise OidcRefused("sign-in took too long")
    return flow


async def _fetch_json(client: httpx.AsyncClient, url: str) -> Any:
    now = time.monotonic()
    cached = _cache.get(url)
    if cached and cached[0] > now:
        return cached[1]
    try:
        answer = await client.get(url)
        answer.raise_for_status()
        value = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcRefused(f"identity provider unreachable: {type(exc).__name__}") from None
    _cache[url] = (now + _CACHE_SECONDS, value)
    return value


async def metadata(client: httpx.AsyncClient, policy: ConsoleSettings) -> dict[str, Any]:
    issuer = (policy.oidc_issuer or "").rstrip("/")
    found: dict[str, Any] = await _fetch_json(client, f"{issuer}/.well-known/openid-configuration")
    return found


def redirect_uri(policy: ConsoleSettings, request_base: str) -> str:
    return (policy.oidc_redirect_base or request_base).rstrip("/") + CALLBACK


async def start(
    client: httpx.AsyncClient, policy: ConsoleSettings, callback: str, next_path: str
) -> tuple[str, dict[str, Any]]:
    """The provider's authorization URL to send the browser to, and the flow to seal."""
    meta = await metadata(client, policy)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    url = prepare_grant_uri(
        meta["authorization_endpoint"],
        policy.oidc_client_id,
        "code",
        redirect_uri=callback,
        scope="openid profile",
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    flow = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": next_path,
        "exp": int(time.time()) + FLOW_SECONDS,
    }
    return url, flow


def _roles(claims: dict[str, Any], policy: ConsoleSettings) -> list[str]:
    raw = claims.get(policy.oidc_roles_claim, [])
    values = raw.split() if isinstance(raw, str) else [str(v) for v in raw or []]
    if policy.oidc_role_map:
        mapped = {policy.oidc_role_map[v] for v in values if v in policy.oidc_role_map}
    else:
        mapped = set(values)
    return [role for role in ROLES if role in mapped]


async def finish(
    client: httpx.AsyncClient,
    policy: ConsoleSettings,
    flow: dict[str, Any],
    *,
    code: str,
    state: str,
    callback: str,
) -> Identity:
    """Exchange ``code``, check the ID token and read the person from its claims."""
    if not hmac.compare_digest(state.encode(), str(flow["state"]).encode()):
        raise OidcRefused("state mismatch")
    meta = await metadata(client, policy)
    secret = policy.oidc_client_secret.get_secret_value() if policy.oidc_client_secret else ""
    try:
        answer = await client.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": callback,
                "code_verifier": flow["verifier"],
            },
            auth=(policy.oidc_client_id or "", secret),
        )
    except httpx.HTTPError as exc:
        raise OidcRefused(f"token endpoint unreachable: {type(exc).__name__}") from None
    if answer.status_code != 200:
        raise OidcRefused(f"token endpoint answered {answer.status_code}")
    id_token = answer.json().get("id_token")
    if not isinstance(id_token, str):
        raise OidcRefused("no id_token")
    keys = KeySet.import_key_set(await _fetch_json(client, meta["jwks_uri"]))
    try:
        token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256", "EdDSA"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": str(meta.get("issuer") or policy.oidc_issuer)},
            aud={"essential": True, "value": str(policy.oidc_client_id)},
            exp={"essential": True},
            nonce={"essential": True, "value": str(flow["nonce"])},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise OidcRefused(f"id_token refused: {type(exc).__name__}") from None
    claims = token.claims
    username = str(claims.get(policy.oidc_username_claim) or "").strip().lower()
    roles = _roles(claims, policy)
    if not roles:
        raise OidcRefused("no console role in the token")
    partner = claims.get(policy.oidc_partner_claim) if "partner-agent" in roles else None
    return Identity(
        username=username,
        display_name=str(claims.get("name") or username),
        roles=roles,
        partner=str(partner) if partner else None,
    )
