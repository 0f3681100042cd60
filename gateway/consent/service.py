"""Granting, revoking, reading and checking consents.

Each change appends a revision whose hash covers the previous revision's hash, the
action, the time and a keyed digest of the sealed document, so a rewritten or removed
revision breaks the chain. The consent row carries the newest state for fast checks;
revocation takes effect on the very next check because nothing is cached.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.consent.models import Consent, ConsentRevision
from gateway.core.data_keys import DataKeyring, SealedColumn
from gateway.core.db import transaction
from gateway.core.problems import ConsentAlreadyRevoked, NotFound
from gateway.core.pseudonyms import Pseudonymizer

GRANTED, REVOKED = "granted", "revoked"
# What a consent's view, state and revision documents are made of.
_VIEWED = (
    "consent_id",
    "purposes",
    "data_categories",
    "legal_basis",
    "agreement_id",
    "agreement_version",
    "channel",
    "state",
    "granted_at",
    "expires_at",
    "revoked_at",
    "revision",
    "head_hash",
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def revision_hash(
    consent_id: str,
    revision: int,
    action: str,
    recorded_at: datetime,
    prev_hash: str | None,
    document_digest: str,
) -> str:
    return hashlib.sha256(
        _canonical(
            {
                "consent_id": consent_id,
                "revision": revision,
                "action": action,
                "recorded_at": _iso(recorded_at),
                "prev_hash": prev_hash,
                "document_digest": document_digest,
            }
        )
    ).hexdigest()


def _columns(consent: Consent) -> dict[str, Any]:
    return {name: getattr(consent, name) for name in _VIEWED}


def _metadata(row: Mapping[str, Any]) -> dict[str, Any]:
    """The consent's terms as its revision documents and its view carry them (the
    revision hash covers them: one definition for a new row and a stored one)."""
    return {
        "id": row["consent_id"],
        "purposes": row["purposes"],
        "data_categories": row["data_categories"],
        "legal_basis": row["legal_basis"],
        "agreement_id": row["agreement_id"],
        "agreement_version": row["agreement_version"],
        "channel": row["channel"],
        "granted_at": _iso(row["granted_at"]),
        "expires_at": _iso(row["expires_at"]),
        "revoked_at": _iso(row["revoked_at"]),
    }


def _state(row: Mapping[str, Any], now: datetime | None = None) -> str:
    if row["state"] == "revoked":
        return "revoked"
    expiry = row["expires_at"]
    if expiry is not None and expiry <= (now or datetime.now(UTC)):
        return "expired"
    return "active"


def _view(row: Mapping[str, Any], personal: dict[str, Any]) -> dict[str, Any]:
    return {
        **_metadata(row),
        "cui": personal["cui"],
        "caregiver_dni": personal["caregiver_dni"],
        "evidence": personal["evidence"],
        "agent_id": personal["agent_id"],
        "revocation_reason": personal.get("revocation_reason"),
        "state": _state(row),
        "revision": row["revision"],
        "hash": row["head_hash"],
    }


def _consent_aad(row: Any) -> bytes:
    return f"consents\x00{row['consent_id']}".encode()


def _revision_aad(row: Any) -> bytes:
    return f"consent_revisions\x00{row['consent_id']}\x00{row['revision']}".encode()


SEALED_COLUMNS = [
    SealedColumn("consents", Consent.__table__, "document_sealed", _consent_aad),  # type: ignore[arg-type]
    SealedColumn(
        "consent_revisions",
        ConsentRevision.__table__,  # type: ignore[arg-type]
        "document_sealed",
        _revision_aad,
    ),
]


class ConsentService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: DataKeyring,
        pseudonyms: Pseudonymizer,
    ) -> None:
        self.sessions = sessions
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
            consent, revision, view = self._granted(now, **terms)
            consents.append(consent)
            revisions.append(revision)
            views.append(view)
        if consents:
            await session.execute(insert(Consent), consents)
            await session.execute(insert(ConsentRevision), revisions)
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
        and :func:`_view` give for a consent object, from the row itself)."""
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
        plain = _canonical({**_metadata(consent), **personal, "action": GRANTED})
        digest = self.pseudonyms.digest(plain)
        key = {"consent_id": consent_id, "revision": 1}
        consent["head_hash"] = revision_hash(consent_id, 1, GRANTED, now, None, digest)
        consent["document_sealed"] = self.keyring.encrypt(_canonical(personal), _consent_aad(key))
        revision = {
            **key,
            "action": GRANTED,
            "recorded_at": now,
            "client_id": client_id,
            "user_id": user_id,
            "prev_hash": None,
            "hash": consent["head_hash"],
            "document_digest": digest,
            "document_sealed": self.keyring.encrypt(plain, _revision_aad(key)),
        }
        view = _view(consent, personal)
        return consent, revision, view

    async def revoke(
        self,
        session: AsyncSession,
        consent_id: str,
        reason: str,
        client_id: str,
        user_id: str | None,
    ) -> dict[str, Any]:
        consent = await self._get_for_update(session, consent_id)
        if consent.state == "revoked":
            raise ConsentAlreadyRevoked("this consent was revoked before; nothing changed")
        now = datetime.now(UTC)
        personal = self._open(consent)
        personal["revocation_reason"] = reason
        consent.state = "revoked"
        consent.revoked_at = now
        consent.ended_at = now
        await self._append(session, consent, REVOKED, personal, now, client_id, user_id)
        return _view(_columns(consent), personal)

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
        document = {**_metadata(_columns(consent)), **personal, "action": action}
        plain = _canonical(document)
        digest = self.pseudonyms.digest(plain)
        prev = consent.head_hash or None
        head = revision_hash(consent.consent_id, revision, action, now, prev, digest)
        row = {"consent_id": consent.consent_id, "revision": revision}
        session.add(
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
                document_sealed=self.keyring.encrypt(plain, _revision_aad(row)),
            )
        )
        consent.revision = revision
        consent.head_hash = head
        consent.document_sealed = self.keyring.encrypt(
            _canonical(personal), _consent_aad({"consent_id": consent.consent_id})
        )
        await session.flush()

    # -- reading -----------------------------------------------------------------------

    async def _get_for_update(self, session: AsyncSession, consent_id: str) -> Consent:
        consent = (
            await session.execute(
                select(Consent).where(Consent.consent_id == consent_id).with_for_update()
            )
        ).scalar_one_or_none()
        if consent is None:
            raise NotFound("no consent with this id")
        return consent

    async def get(self, session: AsyncSession, consent_id: str) -> dict[str, Any]:
        consent = await session.get(Consent, consent_id)
        if consent is None:
            raise NotFound("no consent with this id")
        await self._ensure_keys(consent.document_sealed)
        view = _view(_columns(consent), self._open(consent))
        revisions = (
            (
                await session.execute(
                    select(ConsentRevision)
                    .where(ConsentRevision.consent_id == consent_id)
                    .order_by(ConsentRevision.revision)
                )
            )
            .scalars()
            .all()
        )
        view["revisions"] = [
            {
                "revision": r.revision,
                "action": r.action,
                "recorded_at": _iso(r.recorded_at),
                "prev_hash": r.prev_hash,
                "hash": r.hash,
            }
            for r in revisions
        ]
        view["chain_intact"] = self.chain_intact(revisions)
        return view

    @staticmethod
    def chain_intact(revisions: Sequence[ConsentRevision]) -> bool:
        prev: str | None = None
        for expected, r in enumerate(revisions, start=1):
            if r.revision != expected or r.prev_hash != prev:
                return False
            recomputed = revision_hash(
                r.consent_id, r.revision, r.action, r.recorded_at, r.prev_hash, r.document_digest
            )
            if recomputed != r.hash:
                return False
            prev = r.hash
        return True

    async def for_child(self, session: AsyncSession, cui: str) -> list[dict[str, Any]]:
        rows = (
            (
                await session.execute(
                    select(Consent)
                    .where(Consent.subject_ref == self.pseudonyms.of("cui", cui))
                    .order_by(Consent.granted_at, Consent.consent_id)
                )
            )
            .scalars()
            .all()
        )
        out = []
        for consent in rows:
            await self._ensure_keys(consent.document_sealed)
            out.append(_view(_columns(consent), self._open(consent)))
        return out

    async def covered(
        self, subject_refs: Sequence[str], purpose: str, data_category: str | None
    ) -> set[str]:
        """Which of these subjects (child or caregiver pseudonyms) an active, unexpired
        consent covers for this purpose and data category; in batches of 500."""
        now = datetime.now(UTC)
        found: set[str] = set()
        async with transaction(self.sessions) as session:
            for start in range(0, len(subject_refs), 500):
                batch = list(subject_refs[start : start + 500])
                rows = await session.execute(
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
                for subject, household, purposes, categories, expires_at in rows:
                    expiry = expires_at
                    if expiry is not None and expiry <= now:
                        continue
                    if purpose in purposes and (
                        data_category is None or data_category in categories
                    ):
                        found |= {subject, household} & set(batch)
        return found

    async def active(
        self, subject_refs: Sequence[str], purpose: str, data_category: str | None
    ) -> bool:
        """Whether an active, unexpired consent covers this purpose (and data category)
        for any of these subjects (child or caregiver)."""
        now = datetime.now(UTC)
        async with transaction(self.sessions) as session:
            rows = (
                await session.execute(
                    select(Consent.purposes, Consent.data_categories, Consent.expires_at).where(
                        or_(
                            Consent.subject_ref.in_(subject_refs),
                            Consent.household_ref.in_(subject_refs),
                        ),
                        Consent.state == "active",
                    )
                )
            ).all()
        for purposes, categories, expires_at in rows:
            expiry = expires_at
            if expiry is not None and expiry <= now:
                continue
            if purpose in purposes and (data_category is None or data_category in categories):
                return True
        return False

    async def caregivers(self, after: str | None, limit: int) -> tuple[list[str], str | None]:
        """DNIs of caregivers with an active consent, a page at a time (by consent id)."""
        async with transaction(self.sessions) as session:
            query = select(Consent).where(Consent.state == "active")
            if after:
                query = query.where(Consent.consent_id > after)
            rows = (
                (await session.execute(query.order_by(Consent.consent_id).limit(limit)))
                .scalars()
                .all()
            )
        dnis: list[str] = []
        for consent in rows:
            await self._ensure_keys(consent.document_sealed)
            dni = self._open(consent)["caregiver_dni"]
            if dni not in dnis:
                dnis.append(dni)
        following = rows[-1].consent_id if len(rows) == limit else None
        return dnis, following

    # -- helpers -----------------------------------------------------------------------

    async def _ensure_keys(self, blob: bytes) -> None:
        if self.keyring.key_id_of(blob) not in self.keyring.key_ids:
            await self.keyring.refresh(self.sessions)

    def _open(self, consent: Consent) -> dict[str, Any]:
        plain = self.keyring.decrypt(
            consent.document_sealed, _consent_aad({"consent_id": consent.consent_id})
        )
        result: dict[str, Any] = json.loads(plain)
        return result
