"""Partner credentials the gateway renews itself, stored sealed.

RENIEC answers ``1002`` when the entity's password has expired; an integrator answers
with ``actualizarcredencial``, which replaces the password at RENIEC. The gateway makes
up the new password, has the adapter renew it, and stores it sealed with the data
keyring (AES-256-GCM, associated data ``partner-credential:<partner>``, re-sealed by
``keys reencrypt``). Every process's adapter reads it through :meth:`CredentialStore.
source`, so the stored credential is used from then on, everywhere.

Each renewal is audited (service ``partners.credential-renewal``, the partner's
operation, outcome); no credential appears in the event, in a log line or an error.

Transactions: the store opens its own, from the session factory it is given, by design.
An adapter reads the credential through a port that carries no session, at the moment
it calls the partner; and once the partner holds a new credential it must be kept
whatever happens to the caller's transaction (a rollback would leave the partner with a
password the gateway forgot), so it commits at once with its audit event. Statements
are in ``gateway.partners.repository``, the table in ``gateway.partners.tables``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.events import AuditEvent
from audit.store import append
from gateway.core.data_keys import DataKeyring, SealedColumn
from gateway.core.db import transaction
from gateway.partners.errors import PartnerError
from gateway.partners.ports import CredentialSource, RenewableCredential
from gateway.partners.repository import CredentialRepository
from gateway.partners.tables import PartnerCredential

log = structlog.get_logger("gateway.partners")

AUDIT_SERVICE = "partners.credential-renewal"
# 24 URL-safe characters (144 bits); RENIEC asks for at least 8.
SECRET_BYTES = 18


def credential_aad(partner: str) -> bytes:
    return f"partner-credential:{partner}".encode()


SEALED_COLUMNS = [
    SealedColumn(
        "partner_credentials",
        PartnerCredential.__table__,  # type: ignore[arg-type]
        "secret_sealed",
        lambda row: credential_aad(row["partner"]),
    )
]


@dataclass(frozen=True)
class Renewal:
    partner: str
    renewed_at: datetime


@dataclass(frozen=True)
class Actor:
    """Who asked for a renewal, for the audit event."""

    request_id: str
    client_id: str | None = None
    user_id: str | None = None
    roles: tuple[str, ...] = ()


class CredentialStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], keyring: DataKeyring) -> None:
        self.sessions = sessions
        self.keyring = keyring

    async def load(self, partner: str) -> str | None:
        """The stored credential of ``partner``; None when none was ever renewed."""
        async with transaction(self.sessions) as session:
            sealed = await CredentialRepository(session).sealed(partner)
            if sealed is None:
                return None
            plain = await self.keyring.open(session, sealed, credential_aad(partner))
        return plain.decode()

    def source(self, partner: str) -> CredentialSource:
        async def read() -> str | None:
            return await self.load(partner)

        return read

    def attach(self, adapters: dict[str, RenewableCredential]) -> None:
        """Let each adapter read its stored credential."""
        for partner, adapter in adapters.items():
            adapter.credential_source = self.source(partner)

    async def renew(self, adapter: RenewableCredential, actor: Actor) -> Renewal:
        """Make up a new credential, renew it at the partner, store it sealed; audited.

        Raises the adapter's PartnerError when the partner refuses or cannot be reached
        (the credential in force is then unchanged)."""
        partner = adapter.partner
        event = AuditEvent(
            request_id=actor.request_id or f"renewal:{uuid.uuid4()}",
            client_id=actor.client_id,
            user_id=actor.user_id,
            roles=sorted(actor.roles),
            service=AUDIT_SERVICE,
            purpose=None,
            partner=partner,
            operation="actualizarcredencial",
        )
        started = time.perf_counter()
        new_secret = secrets.token_urlsafe(SECRET_BYTES)
        try:
            await adapter.renew_credential(new_secret)
        except PartnerError as exc:
            event.outcome = event.reason = exc.slug
            event.status = 502
            event.latency_ms = round((time.perf_counter() - started) * 1000, 3)
            async with transaction(self.sessions) as session:
                await append(session, event)
            log.warning("partner credential not renewed", partner=partner, error=exc.slug)
            raise
        renewed_at = datetime.now(UTC)
        event.latency_ms = round((time.perf_counter() - started) * 1000, 3)
        # The partner holds the new credential now: keep it before anything else.
        async with transaction(self.sessions) as session:
            sealed = self.keyring.encrypt(new_secret.encode(), credential_aad(partner))
            await CredentialRepository(session).store(partner, sealed, renewed_at)
            await append(session, event)
        log.info("partner credential renewed", partner=partner)
        return Renewal(partner, renewed_at)
