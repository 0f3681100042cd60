"""The partners feature's table: the credentials the gateway renews itself, sealed.

Apart from the canonical models (``gateway.partners.models``, which the adapters import)
so that the adapters never load the ORM; the store (``gateway.partners.credentials``)
and its repository (``gateway.partners.repository``) both import it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime


class PartnerCredential(Base):
    """``secret_sealed``: AES-256-GCM with the data keyring, associated data
    ``partner-credential:<partner>``; ``renewed_at`` in UTC."""

    __tablename__ = "partner_credentials"

    partner: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
