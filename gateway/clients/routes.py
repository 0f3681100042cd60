"""Client administration over HTTP (admin role); the CLI offers the same operations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from gateway.auth.dependencies import Principal, Session, State, require_role
from gateway.clients.repository import ClientRepository
from gateway.clients.schemas import ClientCreate, ClientCreated, ClientList, ClientOut
from gateway.clients.service import ClientError, create_client, disable_client
from gateway.core.errors import ProblemError, problem_responses

router = APIRouter(
    prefix="/v1/clients", tags=["clients"], responses=problem_responses(401, 403, 422)
)
Admin = Annotated[Principal, Depends(require_role("admin"))]


@router.get("", response_model=ClientList, summary="List registered clients")
async def list_clients(_: Admin, session: Session) -> ClientList:
    clients = await ClientRepository(session).list()
    return ClientList(clients=[ClientOut.model_validate(c) for c in clients])


@router.post("", response_model=ClientCreated, status_code=201, summary="Register a client")
async def register_client(
    body: ClientCreate, _: Admin, session: Session, state: State
) -> ClientCreated:
    try:
        issued = await create_client(session, state.catalog, body.name, body.roles, body.purposes)
    except ClientError as exc:
        raise ProblemError(
            "validation-error",
            str(exc),
            extra={"errors": [{"field": f"body.{exc.field}", "message": str(exc)}]},
        ) from None
    out = ClientOut.model_validate(issued.client)
    return ClientCreated(**out.model_dump(), client_secret=issued.secret)


@router.post(
    "/{client_id}/disable",
    response_model=ClientOut,
    summary="Disable a client at once",
    responses=problem_responses(404),
)
async def disable(client_id: str, _: Admin, session: Session) -> ClientOut:
    try:
        client = await disable_client(session, client_id)
    except ClientError:
        raise ProblemError("not-found", "no client with this id") from None
    return ClientOut.model_validate(client)
