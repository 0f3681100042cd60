"""Every statement on the consent registry's tables (``consents``, ``consent_revisions``).

The repository runs in the caller's session and never commits: the request (or the job
step) that owns the transaction does. It knows rows, not people: subjects are named by
their pseudonyms, and what is sealed stays sealed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.consent.models import Consent, ConsentRevision

BATCH = 500  # subjects or ids per statement (bound parameters stay well below limits)


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(
        self, consents: Sequence[dict[str, Any]], revisions: Sequence[dict[str, Any]]
    ) -> None:
        """Insert consent rows and their revision rows, two statements for all of them."""
        if consents:
            await self.session.execute(insert(Consent), list(consents))
        if revisions:
            await self.session.execute(insert(ConsentRevision), list(revisions))

    def add_revision(self, revision: ConsentRevision) -> None:
        self.session.add(revision)

    async def flush(self) -> None:
        await self.session.flush()

    async def get(self, consent_id: str) -> Consent | None:
        return await self.session.get(Consent, consent_id)

    async def get_for_update(self, consent_id: str) -> Consent | None:
        """The consent, locked until the transaction ends (PostgreSQL; SQLite's single
        writer serialises changes anyway)."""
        return (
            await self.session.execute(
                select(Consent).where(Consent.consent_id == consent_id).with_for_update()
            )
        ).scalar_one_or_none()

    async def revisions(self, consent_id: str) -> Sequence[ConsentRevision]:
        """A consent's revisions, oldest first."""
        return (
            await self.session.scalars(
                select(ConsentRevision)
                .where(ConsentRevision.consent_id == consent_id)
                .order_by(ConsentRevision.revision)
            )
        ).all()

    async def of_subject(self, subject_ref: str) -> Sequence[Consent]:
        """Every consent for this child (by pseudonym), in the order granted."""
        return (
            await self.session.scalars(
                select(Consent)
                .where(Consent.subject_ref == subject_ref)
                .order_by(Consent.granted_at, Consent.consent_id)
            )
        ).all()

    async def active_terms(
        self, refs: Sequence[str]
    ) -> list[tuple[str, str, list[str], list[str], datetime | None]]:
        """``(subject_ref, household_ref, purposes, data_categories, expires_at)`` of the
        consents in state ``active`` whose child or caregiver is one of ``refs``
        (expiry is left to the caller), in statements of ``BATCH`` references."""
        found: list[tuple[str, str, list[str], list[str], datetime | None]] = []
        for start in range(0, len(refs), BATCH):
            batch = list(refs[start : start + BATCH])
            rows = await self.session.execute(
                select(
                    Consent.subject_ref,
                    Consent.household_ref,
                    Consent.purposes,
                    Consent.data_categories,
                    Consent.expires_at,
                ).where(
                    or_(Consent.subject_ref.in_(batch), Consent.household_ref.in_(batch)),
                    Consent.state == "active",
                )
            )
            found.extend(tuple(row) for row in rows)  # type: ignore[misc]
        return found

    async def active_page(self, after: str | None, limit: int) -> Sequence[Consent]:
        """Up to ``limit`` consents in state ``active``, by consent id after ``after``."""
        query = select(Consent).where(Consent.state == "active")
        if after:
            query = query.where(Consent.consent_id > after)
        return (await self.session.scalars(query.order_by(Consent.consent_id).limit(limit))).all()

    async def purge_ended_before(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Delete the consents that ended (revoked, or expired while active) before
        ``cutoff``, with their revisions; the number of consents (counted, not deleted,
        when ``dry_run``)."""
        ended = or_(
            Consent.ended_at < cutoff,
            and_(Consent.state == "active", Consent.expires_at < cutoff),
        )
        ids = (await self.session.scalars(select(Consent.consent_id).where(ended))).all()
        if not dry_run:
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                await self.session.execute(
                    delete(ConsentRevision).where(ConsentRevision.consent_id.in_(chunk))
                )
                await self.session.execute(delete(Consent).where(Consent.consent_id.in_(chunk)))
        return len(ids)
