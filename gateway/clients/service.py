"""Creating, authenticating, disabling, enabling clients and rotating their secrets.

Secrets are shown once and stored only as Argon2id hashes (salted, memory-hard). A
failed look-up still spends one hash verification so that response time does not tell
which client ids exist.

Tokens do not outlive a change of credentials: rotating a secret or disabling a client
moves it to its next ``token_generation``, and a token of an older generation is refused
(``gateway.auth.dependencies``). A secret is rotated when it may have leaked, and a
token bought with a leaked secret must not keep working for the rest of its lifetime;
a client that rotates on schedule fetches a new token with its new secret, which it must
do anyway. Enabling a client again does not bring its old tokens back.

The gateway always keeps one active client with the admin role: disabling the last one
raises ``LastAdminDisabled`` (else no one could administer clients over the API). The
check runs after the change, inside a transaction that serialises such changes, so two
admins disabling each other at once cannot both succeed.

Every change writes one audit event in the same transaction: service ``clients``,
operation ``create``, ``disable``, ``enable`` or ``rotate-secret``, the acting client
(API) or operator (CLI), and the changed client as ``client:<id>`` among its subjects.
Never the secret.
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

from audit.events import AuditEvent
from audit.store import append
from gateway.catalog.models import Catalog
from gateway.clients.models import Client
from gateway.clients.repository import ClientRepository
from gateway.core.i18n import N_, Text

ROLES = ("consumer", "partner", "auditor", "admin")
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(32))


class ClientError(ValueError):
    """A client request names an unknown role, purpose or client; ``field`` says which."""

    def __init__(self, field: str, message: str | Text) -> None:
        super().__init__(str(message))
        self.field = field
        self.message = message  # a catalog id or ``Text``, answered in the reader's language


class ClientNotFound(ClientError):
    def __init__(self) -> None:
        super().__init__("client_id", N_("no client with this id"))


class LastAdminDisabled(Exception):
    """The change would leave no active client with the admin role."""


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an admin client over the API (``client_id``, with the person
    named by ``X-User-Id`` if sent) or an operator at the command line (``user_id``)."""

    request_id: str
    client_id: str | None = None
    user_id: str | None = None
    roles: tuple[str, ...] = ()


async def _audit(
    session: AsyncSession, actor: Actor, operation: str, client: Client, status: int = 200
) -> None:
    await append(
        session,
        AuditEvent(
            request_id=actor.request_id,
            client_id=actor.client_id,
            user_id=actor.user_id,
            roles=sorted(actor.roles),
            service="clients",
            purpose=None,
            operation=operation,
            subjects=[f"client:{client.id}"],
            status=status,
        ),
    )


@dataclass(frozen=True)
class IssuedCredentials:
    client: Client
    secret: str


def validate_grants(catalog: Catalog, roles: list[str], purposes: list[str]) -> None:
    if not roles:
        raise ClientError("roles", N_("a client needs at least one role"))
    unknown_roles = sorted(set(roles) - set(ROLES))
    if unknown_roles:
        raise ClientError(
            "roles",
            Text(
                "unknown role(s) {unknown}; known: {known}",
                unknown=", ".join(unknown_roles),
                known=", ".join(ROLES),
            ),
        )
    unknown = sorted(set(purposes) - set(catalog.purposes))
    if unknown:
        raise ClientError(
            "purposes",
            Text(
                "unknown purpose(s) {unknown}; known: {known}",
                unknown=", ".join(unknown),
                known=", ".join(catalog.purposes),
            ),
        )


async def create_client(
    session: AsyncSession,
    catalog: Catalog,
    name: str,
    roles: list[str],
    purposes: list[str],
    *,
    actor: Actor | None,
) -> IssuedCredentials:
    """A new active client and its secret. ``actor`` None only for test fixtures, which
    stand for rows put in place rather than changes someone made.

    Raises ``ClientError`` naming the field (name, roles, purposes) that is wrong."""
    name = name.strip()
    if not name:
        raise ClientError("name", N_("a client needs a name"))
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
        token_generation=0,
    )
    await ClientRepository(session).add(client)
    if actor is not None:
        await _audit(session, actor, "create", client, status=201)
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


async def _existing(session: AsyncSession, client_id: str) -> Client:
    client = await ClientRepository(session).get(client_id)
    if client is None:
        raise ClientNotFound()
    return client


async def disable_client(session: AsyncSession, client_id: str, *, actor: Actor) -> Client:
    """Disable a client: its tokens stop working at once and do not return if it is
    enabled again. Disabling a disabled client changes nothing.

    Raises ``ClientNotFound``; ``LastAdminDisabled`` if it is the last active admin."""
    repository = ClientRepository(session)
    await repository.lock_registry()
    client = await _existing(session, client_id)
    if not client.active:
        return client
    client.active = False
    client.disabled_at = datetime.now(UTC)
    client.token_generation += 1
    await session.flush()
    # Counted after the change, in the serialised transaction: what another admin
    # disabled a moment ago is seen here.
    if "admin" in client.roles and not await repository.active_admin_ids():
        raise LastAdminDisabled()
    await _audit(session, actor, "disable", client)
    return client


async def enable_client(session: AsyncSession, client_id: str, *, actor: Actor) -> Client:
    """Enable a disabled client; tokens issued before it was disabled stay refused.
    Enabling an active client changes nothing.

    Raises ``ClientNotFound``."""
    client = await _existing(session, client_id)
    if client.active:
        return client
    client.active = True
    client.disabled_at = None
    await session.flush()
    await _audit(session, actor, "enable", client)
    return client


async def rotate_secret(
    session: AsyncSession, client_id: str, *, actor: Actor
) -> IssuedCredentials:
    """Give a client a new secret (shown once): the old secret stops working at once,
    and so do the tokens issued before. A disabled client may be rotated (it stays
    disabled).

    Raises ``ClientNotFound``."""
    client = await _existing(session, client_id)
    secret = secrets.token_urlsafe(32)
    client.secret_hash = await asyncio.to_thread(_hasher.hash, secret)
    client.token_generation += 1
    await session.flush()
    await _audit(session, actor, "rotate-secret", client)
    return IssuedCredentials(client, secret)
