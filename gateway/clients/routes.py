"""Client administration over HTTP (admin role); the CLI offers the same operations.

Every change is audited with the acting admin client and, when sent, the official named
by ``X-User-Id`` (see ``gateway.clients.service``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from gateway.auth.dependencies import Principal, Session, State, require_role
from gateway.catalog.models import Catalog
from gateway.clients.repository import ClientRepository
from gateway.clients.schemas import ClientCreate, ClientCreated, ClientList, ClientOut
from gateway.clients.service import (
    Actor,
    ClientError,
    ClientNotFound,
    LastAdminDisabled,
    create_client,
    disable_client,
    enable_client,
    rotate_secret,
)
from gateway.core.errors import problem_responses
from gateway.core.i18n import N_
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.problems import LastActiveAdmin, NotFound, ProblemError, ValidationFailed

router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1/clients",
    tags=["clients"],
    responses=problem_responses(401, 403, 422),
)
Admin = Annotated[Principal, Depends(require_role("admin"))]
UserId = Annotated[
    str | None,
    Header(
        alias="X-User-Id",
        pattern=r"^[A-Za-z0-9._@:-]{1,64}$",
        description="The official acting through the admin client, for the audit log.",
    ),
]


def _actor(request: Request, principal: Principal, user_id: str | None) -> Actor:
    return Actor(
        request_id=getattr(request.state, "request_id", ""),
        client_id=principal.client_id,
        user_id=user_id,
        roles=tuple(sorted(principal.roles)),
    )


def _not_found() -> ProblemError:
    return NotFound(N_("no client with this id"))


@router.get("", response_model=ClientList, summary="List registered clients")
async def list_clients(_: Admin, session: Session) -> ClientList:
    clients = await ClientRepository(session).list()
    return ClientList(clients=[ClientOut.model_validate(c) for c in clients])


@router.post("", response_model=ClientCreated, status_code=201, summary="Register a client")
async def register_client(
    body: ClientCreate,
    request: Request,
    admin: Admin,
    session: Session,
    state: State,
    user_id: UserId = None,
) -> ClientCreated:
    try:
        issued = await create_client(
            session,
            state.get(Catalog),
            body.name,
            body.roles,
            body.purposes,
            actor=_actor(request, admin, user_id),
        )
    except ClientError as exc:
        raise ValidationFailed(
            exc.message,
            extra={"errors": [{"field": f"body.{exc.field}", "message": exc.message}]},
        ) from None
    out = ClientOut.model_validate(issued.client)
    return ClientCreated(**out.model_dump(), client_secret=issued.secret)


@router.post(
    "/{client_id}/disable",
    response_model=ClientOut,
    summary="Disable a client at once",
    description=(
        "Its tokens stop working at once and stay refused if it is enabled again. "
        "The last active client with the admin role cannot be disabled (409)."
    ),
    responses=problem_responses(404, 409),
)
async def disable(
    client_id: str, request: Request, admin: Admin, session: Session, user_id: UserId = None
) -> ClientOut:
    try:
        client = await disable_client(session, client_id, actor=_actor(request, admin, user_id))
    except ClientNotFound:
        raise _not_found() from None
    except LastAdminDisabled:
        raise LastActiveAdmin(
            N_("this is the last active admin client; enable or register another admin first"),
            extra={"client_id": client_id},
        ) from None
    return ClientOut.model_validate(client)


@router.post(
    "/{client_id}/enable",
    response_model=ClientOut,
    summary="Enable a disabled client",
    description="Tokens issued before it was disabled stay refused; it needs new ones.",
    responses=problem_responses(404),
)
async def enable(
    client_id: str, request: Request, admin: Admin, session: Session, user_id: UserId = None
) -> ClientOut:
    try:
        client = await enable_client(session, client_id, actor=_actor(request, admin, user_id))
    except ClientNotFound:
        raise _not_found() from None
    return ClientOut.model_validate(client)


@router.post(
    "/{client_id}/rotate-secret",
    response_model=ClientCreated,
    summary="Give a client a new secret",
    description=(
        "The new secret is shown once. The old secret stops working at once, and so do "
        "the tokens issued before: the client fetches a new token with the new secret."
    ),
    responses=problem_responses(404),
)
async def rotate(
    client_id: str, request: Request, admin: Admin, session: Session, user_id: UserId = None
) -> ClientCreated:
    try:
        issued = await rotate_secret(session, client_id, actor=_actor(request, admin, user_id))
    except ClientNotFound:
        raise _not_found() from None
    out = ClientOut.model_validate(issued.client)
    return ClientCreated(**out.model_dump(), client_secret=issued.secret)
