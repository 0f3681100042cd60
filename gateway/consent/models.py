"""Consent records and their append-only, hash-linked revisions.

Only what the gateway must filter on is in clear: pseudonyms of the child and the
caregiver, purposes, data categories, state and times. Who the people are (CUI, DNI), the
evidence and the agent travel in ``document_sealed``, encrypted under a data key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime


class Consent(Base):
    __tablename__ = "consents"

    consent_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_ref: Mapped[str] = mapped_column(String(64), index=True)
    household_ref: Mapped[str] = mapped_column(String(64), index=True)
    purposes: Mapped[list[str]] = mapped_column(JSON)
    data_categories: Mapped[list[str]] = mapped_column(JSON)
    legal_basis: Mapped[str] = mapped_column(String(64))
    agreement_id: Mapped[str] = mapped_column(String(64))
    agreement_version: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    revision: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(40))
    document_sealed: Mapped[bytes] = mapped_column(LargeBinary)


class ConsentRevision(Base):
    __tablename__ = "consent_revisions"

    consent_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("consents.consent_id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    client_id: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str] = mapped_column(String(64))
    document_digest: Mapped[str] = mapped_column(String(64))
    document_sealed: Mapped[bytes] = mapped_column(LargeBinary)
