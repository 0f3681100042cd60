"""Issuing and checking access tokens.

Checks run in an order that never trusts the token before its signature is verified
with a key the gateway itself holds: only ``ES256`` is accepted (so ``alg: none`` and
HS256 signed with a published key fail), the ``kid`` must name a gateway key, then the
signature, issuer, audience and lifetime are checked.

Claims: ``iss``, ``aud``, ``sub`` and ``client_id`` (the client), ``roles``, ``purposes``
and ``scope`` (the same purposes, space-separated, as RFC 9068 names them), ``iat``,
``nbf``, ``exp`` (seconds since the epoch), ``jti``, and ``token_generation`` (the
client's generation when the token was issued; see ``gateway.clients.service``).
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.i18n import N_
from gateway.signing_keys.service import ALGORITHM, KeyService

AUDIENCE = "juntos-gateway"
CLOCK_SKEW_SECONDS = 30


class TokenError(Exception):
    """The token is not acceptable; the message says why without echoing it."""


class TokenHolder(Protocol):
    """Whom a token is issued to: a registered client (``gateway.clients.models.Client``),
    seen only through what the token says of it."""

    @property
    def id(self) -> str: ...

    @property
    def roles(self) -> Collection[str]: ...

    @property
    def purposes(self) -> Collection[str]: ...

    @property
    def token_generation(self) -> int: ...


@dataclass(frozen=True)
class TokenClaims:
    client_id: str
    roles: list[str]
    purposes: list[str]
    expires_at: int
    generation: int = 0


class TokenService:
    """Issues tokens and verifies them.

    A verified token's claims cannot change, so they are kept until the token expires
    (bounded in number): repeated calls with one token skip the signature check. What
    can change, the client's state, is checked on every request by the caller.
    """

    MAX_CACHED = 10_000

    def __init__(self, keys: KeyService, issuer: str, ttl_seconds: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.ttl = ttl_seconds
        self._verified: OrderedDict[str, TokenClaims] = OrderedDict()

    def forget_verified(self) -> None:
        """Drop the verified tokens kept (the signing keys changed in the database)."""
        self._verified.clear()

    async def issue(
        self, session: AsyncSession, client: TokenHolder, purposes: list[str] | None = None
    ) -> str:
        """A signed token for ``client``, carrying ``purposes`` (default: all it holds)."""
        purposes = list(client.purposes) if purposes is None else purposes
        active = await self.keys.signing_key(session)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": client.id,
            "client_id": client.id,
            "roles": list(client.roles),
            "purposes": purposes,
            "scope": " ".join(purposes),
            "token_generation": client.token_generation,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": secrets.token_urlsafe(12),
        }
        header = {"alg": ALGORITHM, "kid": active.kid, "typ": "JWT"}
        return jwt.encode(header, claims, active.key, algorithms=[ALGORITHM])

    def known(self, token: str) -> TokenClaims | None:
        """The claims of a token already verified and not yet expired, or None: the
        common case needs no database session at all."""
        cached = self._verified.get(token)
        if cached is not None:
            if int(time.time()) < cached.expires_at:
                return cached
            self._verified.pop(token, None)
        return None

    async def verify(self, session: AsyncSession, token: str) -> TokenClaims:
        cached = self.known(token)
        if cached is not None:
            return cached
        claims = await self._verify(session, token)
        self._verified[token] = claims
        if len(self._verified) > self.MAX_CACHED:
            self._verified.popitem(last=False)
        return claims

    async def _verify(self, session: AsyncSession, token: str) -> TokenClaims:
        try:
            header = extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError, json.JSONDecodeError):
            raise TokenError(N_("malformed token")) from None
        if header.get("alg") != ALGORITHM:
            raise TokenError(N_("token algorithm must be ES256"))  # names ALGORITHM
        kid = header.get("kid")
        key = await self.keys.public_key(session, kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenError(N_("token was not signed by a key of this gateway"))
        try:
            decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
        except (JoseError, ValueError):
            raise TokenError(N_("token signature is invalid")) from None
        c = decoded.claims
        now = int(time.time())
        if c.get("iss") != self.issuer or c.get("aud") != AUDIENCE:
            raise TokenError(N_("token was issued for another audience"))
        exp, iat = c.get("exp"), c.get("iat")
        if not isinstance(exp, int) or not isinstance(iat, int):
            raise TokenError(N_("token lacks its lifetime"))
        if exp - iat > self.ttl or iat > now + CLOCK_SKEW_SECONDS:
            raise TokenError(N_("token lifetime is not one this gateway issues"))
        if now >= exp:
            raise TokenError(N_("token has expired"))
        roles, purposes, client_id = c.get("roles"), c.get("purposes"), c.get("client_id")
        if (
            not isinstance(client_id, str)
            or not isinstance(roles, list)
            or not isinstance(purposes, list)
        ):
            raise TokenError(N_("token lacks its grants"))
        # Tokens issued before generations existed belong to the first one.
        generation = c.get("token_generation", 0)
        if not isinstance(generation, int):
            raise TokenError(N_("token lacks its grants"))
        return TokenClaims(
            client_id, [str(r) for r in roles], [str(p) for p in purposes], exp, generation
        )
