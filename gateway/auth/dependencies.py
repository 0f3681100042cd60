"""Request dependencies: the caller's identity and what it may do.

The token says who the caller is; the client registry says whether it still may act. A
disabled client is refused, a token issued before the client's secret was rotated (or
before it was disabled) is refused, and grants withdrawn since the token was issued no
longer apply (the caller gets the intersection), in every process within
``GATEWAY_REGISTRY_REFRESH_MS`` (``gateway.core.registry``).

A refused bearer token gets 401 with an RFC 6750 §3 challenge:
``Bearer realm="juntos-gateway"`` when no bearer token was sent, and with
``error="invalid_token"`` and ``error_description`` when one was sent and refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.oauth import bearer_challenge
from gateway.auth.tokens import TokenError, TokenService
from gateway.core.db import transaction
from gateway.core.i18n import N_, Text
from gateway.core.problems import (
    InvalidToken,
    ProblemError,
    PurposeNotGranted,
    RateLimited,
    RoleNotGranted,
)
from gateway.core.registry import CachedClients
from gateway.core.web import Components, components, components_dependency
from gateway.ratelimit.service import RateLimiter


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(components(request).sessions) as session:
        yield session


# The request owns its transaction: committed after the endpoint returns and before
# the response is sent, rolled back if anything raised.
Session = Annotated[AsyncSession, Depends(_session, scope="function")]
# The running gateway, its parts looked up by type (``gateway.core.web``).
State = Annotated[Components, Depends(components_dependency)]


@dataclass(frozen=True)
class Principal:
    client_id: str
    name: str
    roles: frozenset[str]
    purposes: frozenset[str]
    # The purposes the client is registered for, granted by this token or not.
    registered_purposes: frozenset[str] = frozenset()


def _unauthorized(detail: str, *, token_sent: bool = True) -> ProblemError:
    # ``detail`` is a catalog id: the problem is translated, the challenge stays English.
    challenge = bearer_challenge("invalid_token", detail) if token_sent else bearer_challenge()
    return InvalidToken(detail, headers={"WWW-Authenticate": challenge})


_bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="Access token from POST /v1/token (OAuth2 client credentials).",
)


async def current_principal(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> Principal:
    # The running parts are read from the request rather than as a dependency of their
    # own: every dependency FastAPI solves costs each request its bookkeeping.
    state = components(request)
    # The header is parsed here rather than by HTTPBearer so every failure is one 401
    # problem document; the scheme dependency only documents the contract.
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized(N_("missing Authorization header"), token_sent=False)
    if scheme.lower() != "bearer":
        raise _unauthorized(N_("Authorization must be 'Bearer <token>'"), token_sent=False)
    if not token.strip():
        raise _unauthorized(N_("Authorization must be 'Bearer <token>'"))
    clients = state.get(CachedClients)
    await clients.versions.fresh()  # cached keys and clients, at most this stale
    tokens = state.get(TokenService)
    token = token.strip()
    claims = tokens.known(token)  # verified before (dropped when the keys change)
    if claims is None:
        # Short-lived: no connection is held while the request waits for a partner.
        async with state.sessions() as session:
            try:
                claims = await tokens.verify(session, token)
            except TokenError as exc:
                raise _unauthorized(str(exc)) from None
    client = await clients.get(claims.client_id)
    if client is None or not client.active:
        raise _unauthorized(N_("client is disabled or unknown"))
    if claims.generation != client.token_generation:
        raise _unauthorized(
            N_("token was issued before the client's secret was rotated or the client disabled")
        )
    request.state.client_id = client.id
    limiter = state.get(RateLimiter)
    retry_after = await limiter.admit(client.id)
    if retry_after is not None:
        raise RateLimited(
            Text("at most {limit} requests per minute for this client", limit=limiter.limit),
            extra={"limit_per_minute": limiter.limit},
            headers={"Retry-After": str(retry_after)},
        )
    return Principal(
        client_id=client.id,
        name=client.name,
        roles=frozenset(claims.roles) & client.roles,
        purposes=frozenset(claims.purposes) & client.purposes,
        registered_purposes=frozenset(client.purposes),
    )


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.roles & set(roles):
            raise RoleNotGranted(
                Text("this operation requires one of the roles: {roles}", roles=", ".join(roles)),
                extra={"required_roles": list(roles)},
            )
        return principal

    return check


def require_purpose(principal: Principal, purpose: str) -> None:
    """403 ``purpose-not-granted`` (RFC 6750 ``insufficient_scope``) unless the token
    grants ``purpose``; the detail says whether the client lacks it or only the token
    does (then a token asked with that scope grants it, RFC 6749 §3.3)."""
    if purpose not in principal.purposes:
        detail = (
            Text(
                "the token was not issued for purpose '{purpose}': ask for a token with "
                "scope '{purpose}'",
                purpose=purpose,
            )
            if purpose in principal.registered_purposes
            else Text("client is not registered for purpose '{purpose}'", purpose=purpose)
        )
        raise PurposeNotGranted(
            detail,
            extra={"purpose": purpose},
            headers={"WWW-Authenticate": bearer_challenge("insufficient_scope", scope=purpose)},
        )
