"""Standard OAuth 2.0 client libraries, with their defaults, against a gateway served over
real HTTP on a loopback port; the tokens they get are verified from the published JWKS
by PyJWT, as a resource server would. The metadata document is checked with Authlib's
RFC 8414 validator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError as AuthlibOAuthError
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from oauthlib.oauth2 import BackendApplicationClient, InvalidClientError, InvalidScopeError
from requests_oauthlib import OAuth2Session

from gateway.app import create_app
from gateway.settings import Settings
from tests.fixtures.gateway import Credentials, MakeClient
from tests.fixtures.support import bound_socket, start_server


@dataclass(frozen=True)
class Served:
    base: str
    metadata: dict[str, Any]


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    """The gateway on a loopback port, its issuer set to its own URL (as a deployment
    sets it to its public https URL)."""
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings.model_copy(update={"token_issuer": base}))
    async with app.router.lifespan_context(app):
        server, task, url = await start_server(app, sock)
        assert url == base
        try:
            async with httpx.AsyncClient() as http:
                metadata = (await http.get(f"{base}/.well-known/oauth-authorization-server")).json()
            yield Served(base, metadata)
        finally:
            server.should_exit = True
            await task


def verify_with_pyjwt(served: Served, access_token: str) -> dict[str, Any]:
    """What a resource server does: key from the JWKS URL in the metadata, then the
    signature, issuer, audience and lifetime."""
    keys = jwt.PyJWKClient(served.metadata["jwks_uri"])
    key = keys.get_signing_key_from_jwt(access_token)
    claims: dict[str, Any] = jwt.decode(
        access_token,
        key.key,
        algorithms=["ES256"],
        issuer=served.metadata["issuer"],
        audience="juntos-gateway",
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    return claims


def _sent_with_basic(response: requests.Response, creds: Credentials) -> None:
    """The library used client_secret_basic: the secret is in the header, not the body."""
    assert response.request.headers["Authorization"].startswith("Basic ")
    body = response.request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    assert "client_secret" not in text
    assert creds.client_secret not in text


async def test_metadata_document_is_valid_rfc8414(served: Served) -> None:
    metadata = AuthorizationServerMetadata(served.metadata)
    # Every member Authlib checks, but response_types_supported: RFC 8414 requires the
    # member and the gateway has no authorization endpoint, so it lists none (Authlib
    # wants at least one entry).
    checks = [
        name
        for name in dir(metadata)
        if name.startswith("validate_") and name != "validate_response_types_supported"
    ]
    assert "validate_issuer" in checks
    for name in checks:
        getattr(metadata, name)()
    assert served.metadata["response_types_supported"] == []
    assert served.metadata["issuer"] == served.base
    assert served.metadata["token_endpoint"] == f"{served.base}/v1/token"
    assert served.metadata["jwks_uri"] == f"{served.base}/.well-known/jwks.json"
    assert served.metadata["grant_types_supported"] == ["client_credentials"]
    assert set(served.metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert served.metadata["scopes_supported"] == [
        "affiliation",
        "contact",
        "payment",
        "coresponsibility-verification",
        "audit",
        "health-follow-up",
    ]


async def test_authlib_client_with_its_defaults(served: Served, make_client: MakeClient) -> None:
    creds = await make_client(["consumer"], ["contact", "payment"])
    seen: list[requests.Response] = []

    def fetch() -> dict[str, Any]:
        session = AuthlibSession(creds.client_id, creds.client_secret)
        session.register_compliance_hook("access_token_response", lambda r: seen.append(r) or r)
        token = dict(session.fetch_token(served.metadata["token_endpoint"]))
        # The library then calls the API with the token it holds.
        assert session.get(f"{served.base}/v1/services").status_code == 200
        return token

    token = await asyncio.to_thread(fetch)
    _sent_with_basic(seen[0], creds)
    assert seen[0].headers["Cache-Control"] == "no-store"
    assert seen[0].headers["Pragma"] == "no-cache"
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "contact payment"
    claims = await asyncio.to_thread(verify_with_pyjwt, served, token["access_token"])
    assert claims["client_id"] == creds.client_id
    assert claims["purposes"] == ["contact", "payment"]
    assert claims["scope"] == "contact payment"


async def test_authlib_client_post_method_with_scope(
    served: Served, make_client: MakeClient
) -> None:
    creds = await make_client(["consumer"], ["contact", "payment"])

    def fetch() -> dict[str, Any]:
        session = AuthlibSession(
            creds.client_id,
            creds.client_secret,
            token_endpoint_auth_method="client_secret_post",
            scope="payment",
        )
        token = dict(session.fetch_token(served.metadata["token_endpoint"]))
        assert session.get(f"{served.base}/v1/services").status_code == 200
        return token

    token = await asyncio.to_thread(fetch)
    assert token["scope"] == "payment"
    claims = await asyncio.to_thread(verify_with_pyjwt, served, token["access_token"])
    assert claims["purposes"] == ["payment"]


async def test_authlib_client_reads_rfc6749_errors(served: Served, make_client: MakeClient) -> None:
    creds = await make_client(["consumer"], ["contact"])

    def fetch(secret: str, scope: str | None) -> None:
        session = AuthlibSession(creds.client_id, secret, scope=scope)
        session.fetch_token(served.metadata["token_endpoint"])

    with pytest.raises(AuthlibOAuthError) as wrong:
        await asyncio.to_thread(fetch, "not-the-secret", None)
    assert wrong.value.error == "invalid_client"
    with pytest.raises(AuthlibOAuthError) as ungranted:
        await asyncio.to_thread(fetch, creds.client_secret, "payment")
    assert ungranted.value.error == "invalid_scope"


async def test_requests_oauthlib_backend_application_client_with_its_defaults(
    served: Served, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # oauthlib refuses plain http unless told; the loopback server has no TLS.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    creds = await make_client(["consumer"], ["contact", "payment"])
    seen: list[requests.Response] = []

    def fetch(scope: list[str] | None) -> dict[str, Any]:
        session = OAuth2Session(
            client=BackendApplicationClient(client_id=creds.client_id, scope=scope)
        )
        session.register_compliance_hook("access_token_response", lambda r: seen.append(r) or r)
        token = dict(
            session.fetch_token(
                token_url=served.metadata["token_endpoint"],
                client_id=creds.client_id,
                client_secret=creds.client_secret,
            )
        )
        assert session.get(f"{served.base}/v1/services").status_code == 200
        return token

    token = await asyncio.to_thread(fetch, None)
    _sent_with_basic(seen[0], creds)
    claims = await asyncio.to_thread(verify_with_pyjwt, served, token["access_token"])
    assert claims["purposes"] == ["contact", "payment"]

    narrowed = await asyncio.to_thread(fetch, ["contact"])
    assert narrowed["scope"] == ["contact"]  # oauthlib splits the scope it is given
    claims = await asyncio.to_thread(verify_with_pyjwt, served, narrowed["access_token"])
    assert claims["purposes"] == ["contact"]

    with pytest.raises(InvalidScopeError):
        await asyncio.to_thread(fetch, ["contact", "affiliation"])

    def wrong_secret() -> None:
        session = OAuth2Session(client=BackendApplicationClient(client_id=creds.client_id))
        session.fetch_token(
            token_url=served.metadata["token_endpoint"],
            client_id=creds.client_id,
            client_secret="not-the-secret",
        )

    with pytest.raises(InvalidClientError):
        await asyncio.to_thread(wrong_secret)


async def test_curl_style_basic_credentials(served: Served, make_client: MakeClient) -> None:
    """``curl -u id:secret -d grant_type=client_credentials .../v1/token``: Basic with
    the id and secret as they are, the grant in the form."""
    creds = await make_client(["consumer"], ["contact"])
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{served.base}/v1/token",
            auth=(creds.client_id, creds.client_secret),
            data={"grant_type": "client_credentials"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["pragma"] == "no-cache"
        token = answer.json()["access_token"]
        services = await http.get(
            f"{served.base}/v1/services", headers={"Authorization": f"Bearer {token}"}
        )
        assert services.status_code == 200
        wrong = await http.post(
            f"{served.base}/v1/token",
            auth=(creds.client_id, "not-the-secret"),
            data={"grant_type": "client_credentials"},
        )
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith('Basic realm="juntos-gateway"')
    assert wrong.json()["error"] == "invalid_client"


async def test_programme_client_names_the_token_error(
    served: Served, make_client: MakeClient
) -> None:
    """The programme's own client reports the RFC 6749 error code it got."""
    from program.client import Credentials as ProgrammeCredentials
    from program.client import GatewayClient, GatewayProblem

    creds = await make_client(["consumer"], ["contact"])
    wrong = {"consumer": ProgrammeCredentials(creds.client_id, "not-the-secret")}
    async with GatewayClient(served.base, wrong) as programme:
        with pytest.raises(GatewayProblem) as refused:
            await programme.call("consumer", "GET", "/v1/services")
    assert refused.value.status == 401
    assert refused.value.slug == "invalid_client"
    assert not refused.value.transient
    assert "client authentication failed" in str(refused.value)
