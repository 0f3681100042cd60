"""Every statement on the partner credentials the gateway renews itself
(``partner_credentials``, defined in ``gateway.partners.tables``).

The repository runs in the caller's session and never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.partners.tables import PartnerCredential


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sealed(self, partner: str) -> bytes | None:
        """The partner's sealed credential; None when none was ever renewed."""
        row = await self.session.get(PartnerCredential, partner)
        return row.secret_sealed if row is not None else None

    async def store(self, partner: str, sealed: bytes, renewed_at: datetime) -> None:
        """Keep the partner's newly sealed credential (replacing the one before)."""
        row = await self.session.get(PartnerCredential, partner)
        if row is None:
            self.session.add(
                PartnerCredential(partner=partner, secret_sealed=sealed, renewed_at=renewed_at)
            )
        else:
            row.secret_sealed = sealed
            row.renewed_at = renewed_at
        await self.session.flush()
