"""``POST /v1/token`` (OAuth 2.0 client credentials, RFC 6749 §4.4), the public JWKS and
the authorization server metadata (RFC 8414).

The token endpoint answers errors as RFC 6749 §5.2 ``application/json`` documents
(``error``, ``error_description``), not as problem documents: that is what every OAuth
client library parses. Every answer of it, success or error, carries
``Cache-Control: no-store`` and ``Pragma: no-cache``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.security.http import HTTPAuthorizationCredentials, HTTPBase
from starlette.requests import HTTPConnection

from gateway.auth.dependencies import Session, State
from gateway.auth.oauth import (
    AUTH_METHODS,
    GRANT_TYPES,
    NO_STORE,
    OAuthError,
    check_parameters,
    client_credentials,
    granted_scope,
    requested_scope,
)
from gateway.auth.tokens import TokenService
from gateway.catalog.models import Catalog
from gateway.clients.service import authenticate
from gateway.core.jsonbody import JSONBodyRoute
from gateway.issuer.schemas import (
    AuthorizationServerMetadata,
    Jwks,
    TokenErrorResponse,
    TokenResponse,
)
from gateway.settings import Settings
from gateway.signing_keys.service import KeyService

router = APIRouter(route_class=JSONBodyRoute, tags=["auth"])


class _ClientSecretBasic(HTTPBase):
    """Documents ``client_secret_basic`` in the contract; the header itself is read by
    ``gateway.auth.oauth`` so that every failure is an RFC 6749 error answer."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return None


_basic_scheme = _ClientSecretBasic(
    scheme="basic",
    scheme_name="client_secret_basic",
    description=(
        "RFC 6749 §2.3.1: the client id and secret, each form-urlencoded, as HTTP Basic "
        "user and password. Alternatively send `client_id` and `client_secret` in the form "
        "(`client_secret_post`), never both."
    ),
    auto_error=False,
)

_NO_STORE_HEADERS = {
    "Cache-Control": {"schema": {"type": "string", "const": "no-store"}},
    "Pragma": {"schema": {"type": "string", "const": "no-cache"}},
}


@router.post(
    "/v1/token",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    summary="Exchange client credentials for an access token",
    description=(
        "OAuth 2.0 client credentials grant (RFC 6749 §4.4). The client authenticates "
        "with HTTP Basic (`client_secret_basic`) or with `client_id` and `client_secret` "
        "in the form (`client_secret_post`). `scope` (optional) is a space-separated list "
        "of purposes; the token then carries only those, each of which the client must "
        "hold (otherwise `invalid_scope`); without it the token carries every purpose "
        "the client holds. Errors follow RFC 6749 §5.2."
    ),
    responses={
        200: {"headers": _NO_STORE_HEADERS},
        400: {
            "model": TokenErrorResponse,
            "description": "invalid_request, unsupported_grant_type or invalid_scope",
            "headers": _NO_STORE_HEADERS,
        },
        401: {
            "model": TokenErrorResponse,
            "description": "invalid_client (with a `WWW-Authenticate: Basic` challenge)",
            "headers": {
                **_NO_STORE_HEADERS,
                "WWW-Authenticate": {"schema": {"type": "string"}},
            },
        },
    },
    # Basic is one of two ways to authenticate: the form fields are the other.
    openapi_extra={"security": [{}]},
)
async def issue_token(
    request: Request,
    response: Response,
    session: Session,
    state: State,
    _basic: Annotated[HTTPAuthorizationCredentials | None, Depends(_basic_scheme)],
    grant_type: Annotated[str | None, Form(description="`client_credentials`.")] = None,
    client_id: Annotated[str | None, Form(description="`client_secret_post` only.")] = None,
    client_secret: Annotated[str | None, Form(description="`client_secret_post` only.")] = None,
    scope: Annotated[str | None, Form(description="Space-separated purposes.")] = None,
) -> TokenResponse:
    response.headers.update(NO_STORE)
    # The parsed form (the parameters above only document it) shows repeated parameters.
    form = await request.form()
    check_parameters(form)
    credentials = client_credentials(request.headers.get("authorization"), form)
    requested = requested_scope(form)
    client = await authenticate(session, credentials.client_id, credentials.client_secret)
    if client is None:
        raise OAuthError("invalid_client", "client authentication failed")
    purposes = granted_scope(requested, list(client.purposes))
    token = await state.get(TokenService).issue(session, client, purposes)
    return TokenResponse(
        access_token=token,
        expires_in=state.get(Settings).token_ttl_seconds,
        scope=" ".join(purposes) or None,
    )


@router.get(
    "/.well-known/jwks.json",
    response_model=Jwks,
    summary="Public keys that verify the gateway's tokens",
)
async def jwks(session: Session, state: State) -> Jwks:
    return Jwks.model_validate(await state.get(KeyService).jwks(session))


def _public_base(issuer: str, request: Request) -> str:
    """Where clients reach the gateway: the issuer when it is a URL (as RFC 8414 wants
    it in deployment), else the address this request came to (the sandbox)."""
    parts = urlsplit(issuer)
    if parts.scheme in ("http", "https") and parts.netloc:
        return issuer.rstrip("/")
    return str(request.base_url).rstrip("/")


@router.get(
    "/.well-known/oauth-authorization-server",
    response_model=AuthorizationServerMetadata,
    response_model_exclude_none=True,
    summary="OAuth 2.0 authorization server metadata (RFC 8414)",
)
async def authorization_server_metadata(
    request: Request, state: State
) -> AuthorizationServerMetadata:
    base = _public_base(state.get(Settings).token_issuer, request)
    document: dict[str, Any] = {
        "issuer": state.get(Settings).token_issuer,
        "token_endpoint": f"{base}/v1/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "scopes_supported": list(state.get(Catalog).purposes),
        "response_types_supported": [],
        "service_documentation": f"{base}/docs",
    }
    return AuthorizationServerMetadata.model_validate(document)
