"""The token endpoint's side of OAuth 2.0: client authentication, scope and error answers.

Sources: RFC 6749 (§2.3.1 client authentication, §3.2 and §3.3 token request and scope,
§5.1 and §5.2 token answers), RFC 7617 (HTTP Basic), RFC 6750 §3 (bearer challenges),
RFC 8414 (server metadata).

A client authenticates with ``client_secret_basic`` (HTTP Basic; the id and secret each
form-urlencoded before they are joined, §2.3.1) or ``client_secret_post`` (both in the
form body), never both in one request (§2.3: "MUST NOT use more than one authentication
method"). Secrets the gateway issues use only unreserved characters, so clients that
encode (Authlib) and clients that do not (requests-oauthlib, ``curl -u``) send the same
bytes.

Why not Authlib's ``AuthorizationServer``: it is synchronous (its client look-up and
secret check would block the event loop on the database and on Argon2id), has no
Starlette server integration, and accepts the first authentication method that succeeds
rather than refusing two at once. What it would parse here is a Base64 header and a
space-separated list; the standard library does both. Authlib's clients and its RFC 8414
validator check this module from outside, in the tests.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import FormData

REALM = "juntos-gateway"
GRANT_TYPES = ("client_credentials",)
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
TOKEN_PARAMETERS = ("grant_type", "client_id", "client_secret", "scope")
# RFC 6749 §5.1: "The authorization server MUST include ... Cache-Control no-store and
# Pragma no-cache" in any answer holding tokens or credentials; the gateway sends them on
# every answer of the token endpoint.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
BASIC_CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8"'
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
# RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
_NOT_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer of the token endpoint.

    ``error`` is one of invalid_request, invalid_client, invalid_grant,
    unauthorized_client, unsupported_grant_type, invalid_scope. ``invalid_client`` is
    401 with a Basic challenge (the scheme the endpoint accepts); the others are 400.
    ``errors`` (optional, as in the gateway's problem documents) names each offending
    form field.
    """

    def __init__(
        self, error: str, description: str, *, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = _NOT_DESCRIPTION.sub("?", description)
        self.errors = errors
        self.status = 401 if error == "invalid_client" else 400


def oauth_error_response(exc: OAuthError) -> JSONResponse:
    body: dict[str, Any] = {"error": exc.error, "error_description": exc.description}
    if exc.errors:
        body["errors"] = exc.errors
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = BASIC_CHALLENGE
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def _on_oauth_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OAuthError)
    return oauth_error_response(exc)


def install_oauth_error_handler(app: FastAPI) -> None:
    app.add_exception_handler(OAuthError, _on_oauth_error)


def _missing(*names: str) -> list[dict[str, str]]:
    return [{"field": name, "message": "required"} for name in names]


def check_parameters(form: FormData) -> str:
    """The grant type of a well-formed token request (RFC 6749 §3.2, §4.4.2).

    Raises ``OAuthError``: invalid_request for a repeated parameter or a missing
    ``grant_type``; unsupported_grant_type for any grant but client_credentials.
    """
    repeated = [name for name in TOKEN_PARAMETERS if len(form.getlist(name)) > 1]
    if repeated:
        raise OAuthError(
            "invalid_request",
            f"parameters must not be repeated: {', '.join(repeated)}",
            errors=[{"field": name, "message": "repeated"} for name in repeated],
        )
    grant_type = form.get("grant_type")
    if not isinstance(grant_type, str) or not grant_type:
        raise OAuthError(
            "invalid_request", "missing form field(s): grant_type", errors=_missing("grant_type")
        )
    if grant_type not in GRANT_TYPES:
        raise OAuthError(
            "unsupported_grant_type",
            "grant_type must be client_credentials",
            errors=[{"field": "grant_type", "message": "must be client_credentials"}],
        )
    return grant_type


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str
    method: str  # one of AUTH_METHODS


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


def client_credentials(authorization: str | None, form: FormData) -> ClientCredentials:
    """The client's id and secret, from the Authorization header or the form (§2.3.1).

    Raises ``OAuthError``: invalid_request when both methods are used; invalid_client
    when no credentials are sent, the header uses another scheme or cannot be decoded.
    """
    form_id, form_secret = _text(form, "client_id"), _text(form, "client_secret")
    if authorization is None:
        missing = [n for n, v in (("client_id", form_id), ("client_secret", form_secret)) if not v]
        if missing:
            raise OAuthError(
                "invalid_client",
                f"no client authentication: send HTTP Basic credentials or the form "
                f"field(s) {', '.join(missing)}",
                errors=_missing(*missing),
            )
        assert form_id is not None
        assert form_secret is not None
        return ClientCredentials(form_id, form_secret, "client_secret_post")
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "the token endpoint accepts HTTP Basic or form fields")
    if "client_secret" in form:
        raise OAuthError(
            "invalid_request",
            "use one client authentication method: HTTP Basic or client_secret in the form, "
            "not both",
            errors=[{"field": "client_secret", "message": "sent with HTTP Basic credentials"}],
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise OAuthError("invalid_client", "HTTP Basic credentials are not Base64") from None
    user, colon, password = decoded.partition(":")
    client_id, client_secret = unquote_plus(user), unquote_plus(password)
    if not colon or not client_id or not client_secret:
        raise OAuthError("invalid_client", "HTTP Basic credentials need a client id and secret")
    if form_id is not None and form_id != client_id:
        raise OAuthError(
            "invalid_request",
            "client_id in the form differs from the HTTP Basic user",
            errors=[{"field": "client_id", "message": "differs from the HTTP Basic user"}],
        )
    return ClientCredentials(client_id, client_secret, "client_secret_basic")


def requested_scope(form: FormData) -> list[str] | None:
    """The scope tokens asked for, in order and without repeats; None when no scope (or
    an empty one) is sent, which means every purpose the client holds.

    Raises ``OAuthError`` invalid_scope for a token outside RFC 6749 §3.3's grammar.
    """
    value = form.get("scope")
    if not isinstance(value, str) or not value.strip():
        return None
    tokens = list(dict.fromkeys(value.split()))
    if not all(_SCOPE_TOKEN.match(token) for token in tokens):
        raise OAuthError("invalid_scope", "scope is a space-separated list of purposes")
    return tokens


def granted_scope(requested: list[str] | None, held: list[str]) -> list[str]:
    """The purposes a token carries: the requested ones, each of which the client must
    hold, in the client's order; or all it holds when nothing was requested.

    Raises ``OAuthError`` invalid_scope naming the purposes the client does not hold.
    """
    if requested is None:
        return list(held)
    refused = [token for token in requested if token not in held]
    if refused:
        shown = ", ".join(refused[:5]) + (", ..." if len(refused) > 5 else "")
        raise OAuthError(
            "invalid_scope",
            f"scope names purpose(s) unknown or not granted to this client: {shown}",
            errors=[{"field": "scope", "message": "not granted"}],
        )
    return [purpose for purpose in held if purpose in requested]


def bearer_challenge(
    error: str | None = None, description: str | None = None, *, scope: str | None = None
) -> str:
    """An RFC 6750 §3 ``WWW-Authenticate`` value; no error code when the request carried
    no bearer token at all (§3.1); ``scope`` names the purpose an
    ``insufficient_scope`` answer lacked."""
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_NOT_DESCRIPTION.sub("?", description)}"')
    if scope:
        parts.append(f'scope="{_NOT_DESCRIPTION.sub("?", scope)}"')
    return "Bearer " + ", ".join(parts)
