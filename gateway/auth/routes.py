"""``POST /v1/token`` (OAuth2 client credentials) and the public JWKS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form

from gateway.auth.dependencies import Session, State
from gateway.auth.schemas import Jwks, TokenResponse
from gateway.clients.service import authenticate
from gateway.core.errors import ProblemError, problem_responses

router = APIRouter(tags=["auth"])

_FORM_FIELDS = ("grant_type", "client_id", "client_secret")


@router.post(
    "/v1/token",
    response_model=TokenResponse,
    summary="Exchange client credentials for an access token",
    responses=problem_responses(400, 401),
)
async def issue_token(
    session: Session,
    state: State,
    grant_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> TokenResponse:
    values = {"grant_type": grant_type, "client_id": client_id, "client_secret": client_secret}
    missing = [name for name in _FORM_FIELDS if not values[name]]
    if missing:
        raise ProblemError(
            "invalid-request",
            f"missing form field(s): {', '.join(missing)}",
            extra={
                "error": "invalid_request",
                "errors": [{"field": name, "message": "required"} for name in missing],
            },
        )
    if grant_type != "client_credentials":
        raise ProblemError(
            "invalid-request",
            "grant_type must be client_credentials",
            extra={
                "error": "unsupported_grant_type",
                "errors": [{"field": "grant_type", "message": "must be client_credentials"}],
            },
        )
    assert client_id is not None
    assert client_secret is not None
    client = await authenticate(session, client_id, client_secret)
    if client is None:
        raise ProblemError(
            "invalid-client",
            "client authentication failed",
            extra={"error": "invalid_client"},
            headers={"WWW-Authenticate": 'Basic realm="juntos-gateway"'},
        )
    token = await state.tokens.issue(session, client)
    return TokenResponse(access_token=token, expires_in=state.settings.token_ttl_seconds)


@router.get(
    "/.well-known/jwks.json",
    response_model=Jwks,
    summary="Public keys that verify the gateway's tokens",
)
async def jwks(session: Session, state: State) -> Jwks:
    return Jwks.model_validate(await state.keys.jwks(session))
