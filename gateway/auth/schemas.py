from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TokenResponse(BaseModel):
    access_token: str = Field(description="ES256-signed JWT; send as `Authorization: Bearer`.")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


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
