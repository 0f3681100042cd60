"""Shapes of the token endpoint's answers (RFC 6749 §5.1, §5.2), the JWKS (RFC 7517)
and the authorization server metadata (RFC 8414 §2)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 successful token answer."""

    access_token: str = Field(description="ES256-signed JWT; send as `Authorization: Bearer`.")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str | None = Field(
        default=None,
        description="The purposes the token carries, space-separated (absent when none).",
    )


class FieldError(BaseModel):
    field: str
    message: str


class TokenErrorResponse(BaseModel):
    """RFC 6749 §5.2 error answer of the token endpoint (`application/json`)."""

    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    ]
    error_description: str = Field(description="Why, in English; never echoes a secret.")
    errors: list[FieldError] | None = Field(
        default=None, description="The offending form field(s), when one can be named."
    )


class Jwk(BaseModel):
    kty: str
    kid: str
    crv: str
    x: str
    y: str
    use: str | None = None
    alg: str | None = None


class Jwks(BaseModel):
    keys: list[Jwk]


class AuthorizationServerMetadata(BaseModel):
    """RFC 8414 §2 metadata of the gateway as an OAuth 2.0 authorization server."""

    issuer: str = Field(description="Equal to the `iss` claim of every token issued.")
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    scopes_supported: list[str] = Field(description="The catalog's purposes.")
    response_types_supported: list[str] = Field(
        description="Empty: there is no authorization endpoint (client credentials only)."
    )
    service_documentation: str | None = None
