"""Creating, authenticating and disabling clients.

Secrets are shown once and stored only as Argon2id hashes (salted, memory-hard). A
failed look-up still spends one hash verification so that response time does not tell
which client ids exist.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.catalog.models import Catalog
from gateway.clients.models import Client
from gateway.clients.repository import ClientRepository

ROLES = ("consumer", "partner", "auditor", "admin")
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(32))


class ClientError(ValueError):
    """A client request names an unknown role, purpose or client; ``field`` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class IssuedCredentials:
    client: Client
    secret: str


def validate_grants(catalog: Catalog, roles: list[str], purposes: list[str]) -> None:
    if not roles:
        raise ClientError("roles", "a client needs at least one role")
    unknown_roles = sorted(set(roles) - set(ROLES))
    if unknown_roles:
        raise ClientError(
            "roles", f"unknown role(s) {', '.join(unknown_roles)}; known: {', '.join(ROLES)}"
        )
    unknown = sorted(set(purposes) - set(catalog.purposes))
    if unknown:
        raise ClientError(
            "purposes",
            f"unknown purpose(s) {', '.join(unknown)}; known: {', '.join(catalog.purposes)}",
        )


async def create_client(
    session: AsyncSession, catalog: Catalog, name: str, roles: list[str], purposes: list[str]
) -> IssuedCredentials:
    name = name.strip()
    if not name:
        raise ClientError("name", "a client needs a name")
    roles = list(dict.fromkeys(roles))
    purposes = list(dict.fromkeys(purposes))
    validate_grants(catalog, roles, purposes)
    secret = secrets.token_urlsafe(32)
    secret_hash = await asyncio.to_thread(_hasher.hash, secret)
    client = Client(
        id=f"cl_{secrets.token_hex(8)}",
        name=name,
        roles=roles,
        purposes=purposes,
        secret_hash=secret_hash,
        active=True,
        created_at=datetime.now(UTC),
    )
    await ClientRepository(session).add(client)
    return IssuedCredentials(client, secret)


async def authenticate(session: AsyncSession, client_id: str, secret: str) -> Client | None:
    """The active client holding this secret, or None."""
    client = await ClientRepository(session).get(client_id)
    # Argon2 is deliberately slow; verifying off the event loop keeps other requests moving.
    try:
        await asyncio.to_thread(
            _hasher.verify, client.secret_hash if client else _dummy_hash(), secret
        )
    except (VerificationError, InvalidHashError):
        return None
    if client is None or not client.active:
        return None
    return client


async def disable_client(session: AsyncSession, client_id: str) -> Client:
    client = await ClientRepository(session).get(client_id)
    if client is None:
        raise ClientError("client_id", "no client with this id")
    if client.active:
        client.active = False
        client.disabled_at = datetime.now(UTC)
    return client
