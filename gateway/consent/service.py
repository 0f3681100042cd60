"""Granting, revoking, reading and checking consents.

Each change appends a revision whose hash covers the previous revision's hash, the
action, the time and a keyed digest of the sealed document, so a rewritten or removed
revision breaks the chain (``gateway.consent.documents``). The consent row carries the
newest state for fast checks; revocation takes effect on the very next check because
nothing is cached.

Every method works in the caller's session and never commits: the request's (or the job
step's) transaction holds the change and its audit event together. Statements are in
``gateway.consent.repository``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.consent.documents import (
    GRANTED,
    REVOKED,
    canonical,
    columns,
    consent_aad,
    iso,
    metadata,
    revision_aad,
    revision_hash,
    view,
)
from gateway.consent.documents import SEALED_COLUMNS as SEALED_COLUMNS
from gateway.consent.documents import chain_intact as chain_intact
from gateway.consent.models import Consent, ConsentRevision
from gateway.consent.repository import ConsentRepository
from gateway.core.data_keys import DataKeyring
from gateway.core.i18n import N_
from gateway.core.problems import ConsentAlreadyRevoked, NotFound
from gateway.core.pseudonyms import Pseudonymizer


class ConsentService:
    def __init__(self, keyring: DataKeyring, pseudonyms: Pseudonymizer) -> None:
        self.keyring = keyring
        self.pseudonyms = pseudonyms

    # -- writing -----------------------------------------------------------------------

    async def grant(self, session: AsyncSession, **terms: Any) -> dict[str, Any]:
        """Record a consent and its first revision (``terms``: see :meth:`grant_many`)."""
        return (await self.grant_many(session, [terms]))[0]

    async def grant_many(
        self, session: AsyncSession, grants: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Record consents and their first revisions in the caller's transaction, two
        statements for all of them. Each grant names ``cui``, ``caregiver_dni``,
        ``purposes``, ``data_categories``, ``legal_basis``, ``agreement_id``,
        ``agreement_version``, ``channel``, ``evidence``, ``agent_id``, ``expires_at``,
        ``client_id`` and ``user_id``; the answer is each consent's view, in order."""
        now = datetime.now(UTC)
        consents, revisions, views = [], [], []
        for terms in grants:
            consent, revision, answer = self._granted(now, **terms)
            consents.append(consent)
            revisions.append(revision)
            views.append(answer)
        await ConsentRepository(session).add_many(consents, revisions)
        return views

    def _granted(
        self,
        now: datetime,
        *,
        cui: str,
        caregiver_dni: str,
        purposes: list[str],
        data_categories: list[str],
        legal_basis: str,
        agreement_id: str,
        agreement_version: str,
        channel: str,
        evidence: dict[str, str],
        agent_id: str,
        expires_at: datetime | None,
        client_id: str,
        user_id: str | None,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The consent row, its first revision row and its view (what :meth:`_append`
        and :func:`view` give for a consent object, from the row itself)."""
        consent_id = str(uuid.uuid4())
        consent: dict[str, Any] = {
            "consent_id": consent_id,
            "subject_ref": self.pseudonyms.of("cui", cui),
            "household_ref": self.pseudonyms.of("dni", caregiver_dni),
            "purposes": sorted(set(purposes)),
            "data_categories": sorted(set(data_categories)),
            "legal_basis": legal_basis,
            "agreement_id": agreement_id,
            "agreement_version": agreement_version,
            "channel": channel,
            "state": "active",
            "granted_at": now,
            "expires_at": expires_at,
            "revoked_at": None,
            "ended_at": None,
            "revision": 1,
            "client_id": client_id,
        }
        personal = {
            "cui": cui,
            "caregiver_dni": caregiver_dni,
            "evidence": evidence,
            "agent_id": agent_id,
        }
        plain = canonical({**metadata(consent), **personal, "action": GRANTED})
        digest = self.pseudonyms.digest(plain)
        key = {"consent_id": consent_id, "revision": 1}
        consent["head_hash"] = revision_hash(consent_id, 1, GRANTED, now, None, digest)
        consent["document_sealed"] = self.keyring.encrypt(canonical(personal), consent_aad(key))
        revision = {
            **key,
            "action": GRANTED,
            "recorded_at": now,
            "client_id": client_id,
            "user_id": user_id,
            "prev_hash": None,
            "hash": consent["head_hash"],
            "document_digest": digest,
            "document_sealed": self.keyring.encrypt(plain, revision_aad(key)),
        }
        return consent, revision, view(consent, personal)

    async def revoke(
        self,
        session: AsyncSession,
        consent_id: str,
        reason: str,
        client_id: str,
        user_id: str | None,
    ) -> dict[str, Any]:
        consent = await ConsentRepository(session).get_for_update(consent_id)
        if consent is None:
            raise NotFound(N_("no consent with this id"))
        if consent.state == "revoked":
            raise ConsentAlreadyRevoked(N_("this consent was revoked before; nothing changed"))
        now = datetime.now(UTC)
        await self._ensure_keys(session, consent.document_sealed)
        personal = self._open(consent)
        personal["revocation_reason"] = reason
        consent.state = "revoked"
        consent.revoked_at = now
        consent.ended_at = now
        await self._append(session, consent, REVOKED, personal, now, client_id, user_id)
        return view(columns(consent), personal)

    async def _append(
        self,
        session: AsyncSession,
        consent: Consent,
        action: str,
        personal: dict[str, Any],
        now: datetime,
        client_id: str,
        user_id: str | None,
    ) -> None:
        revision = consent.revision + 1
        document = {**metadata(columns(consent)), **personal, "action": action}
        plain = canonical(document)
        digest = self.pseudonyms.digest(plain)
        prev = consent.head_hash or None
        head = revision_hash(consent.consent_id, revision, action, now, prev, digest)
        row = {"consent_id": consent.consent_id, "revision": revision}
        repository = ConsentRepository(session)
        repository.add_revision(
            ConsentRevision(
                consent_id=consent.consent_id,
                revision=revision,
                action=action,
                recorded_at=now,
                client_id=client_id,
                user_id=user_id,
                prev_hash=prev,
                hash=head,
                document_digest=digest,
                document_sealed=self.keyring.encrypt(plain, revision_aad(row)),
            )
        )
        consent.revision = revision
        consent.head_hash = head
        consent.document_sealed = self.keyring.encrypt(
            canonical(personal), consent_aad({"consent_id": consent.consent_id})
        )
        await repository.flush()

    # -- reading -----------------------------------------------------------------------

    async def get(self, session: AsyncSession, consent_id: str) -> dict[str, Any]:
        """A consent's view with its revisions and whether their chain is intact.

        Raises ``NotFound`` when there is no consent with this id."""
        repository = ConsentRepository(session)
        consent = await repository.get(consent_id)
        if consent is None:
            raise NotFound(N_("no consent with this id"))
        await self._ensure_keys(session, consent.document_sealed)
        answer = view(columns(consent), self._open(consent))
        revisions = await repository.revisions(consent_id)
        answer["revisions"] = [
            {
                "revision": r.revision,
                "action": r.action,
                "recorded_at": iso(r.recorded_at),
                "prev_hash": r.prev_hash,
                "hash": r.hash,
            }
            for r in revisions
        ]
        answer["chain_intact"] = chain_intact(revisions)
        return answer

    async def for_child(self, session: AsyncSession, cui: str) -> list[dict[str, Any]]:
        """Every consent for this child (by CUI), in the order granted."""
        rows = await ConsentRepository(session).of_subject(self.pseudonyms.of("cui", cui))
        out = []
        for consent in rows:
            await self._ensure_keys(session, consent.document_sealed)
            out.append(view(columns(consent), self._open(consent)))
        return out

    async def covered(
        self,
        session: AsyncSession,
        subject_refs: Sequence[str],
        purpose: str,
        data_category: str | None,
    ) -> set[str]:
        """Which of these subjects (child or caregiver pseudonyms) an active, unexpired
        consent covers for this purpose and data category."""
        now = datetime.now(UTC)
        wanted = set(subject_refs)
        found: set[str] = set()
        rows = await ConsentRepository(session).active_terms(subject_refs)
        for subject, household, purposes, categories, expires_at in rows:
            if expires_at is not None and expires_at <= now:
                continue
            if purpose in purposes and (data_category is None or data_category in categories):
                found |= {subject, household} & wanted
        return found

    async def active(
        self,
        session: AsyncSession,
        subject_refs: Sequence[str],
        purpose: str,
        data_category: str | None,
    ) -> bool:
        """Whether an active, unexpired consent covers this purpose (and data category)
        for any of these subjects (child or caregiver)."""
        return bool(await self.covered(session, subject_refs, purpose, data_category))

    async def caregivers(
        self, session: AsyncSession, after: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        """DNIs of caregivers with an active consent, a page at a time (by consent id):
        the DNIs and the cursor of the next page (None after the last)."""
        rows = await ConsentRepository(session).active_page(after, limit)
        dnis: list[str] = []
        for consent in rows:
            await self._ensure_keys(session, consent.document_sealed)
            dni = self._open(consent)["caregiver_dni"]
            if dni not in dnis:
                dnis.append(dni)
        following = rows[-1].consent_id if len(rows) == limit else None
        return dnis, following

    # -- helpers -----------------------------------------------------------------------

    async def _ensure_keys(self, session: AsyncSession, blob: bytes) -> None:
        """Load data keys another process added since this one started."""
        if self.keyring.key_id_of(blob) not in self.keyring.key_ids:
            await self.keyring.load(session)

    def _open(self, consent: Consent) -> dict[str, Any]:
        plain = self.keyring.decrypt(
            consent.document_sealed, consent_aad({"consent_id": consent.consent_id})
        )
        result: dict[str, Any] = json.loads(plain)
        return result
