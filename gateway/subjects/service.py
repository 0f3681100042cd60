"""The disclosures of one person's data, read from the audit log: what the API's
``GET /v1/subjects/{dni}/disclosures`` answers and what the console's report (on screen
and as PDF) shows.

The person appears in the log only as keyed pseudonyms, so the number is pseudonymised
as a DNI and as a CUI (a Peruvian child's CUI is the number of their DNI) and matched
against the subjects of every allowed event that disclosed fields. Queries of the audit
log itself (the catalog's ``audit`` data category) disclose metadata, not the person's
data, and are left out.

Runs in the caller's session and never commits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from audit.verify import Report
from gateway.auditing.service import verify
from gateway.catalog.models import Catalog
from gateway.clients.repository import ClientRepository
from gateway.core.pseudonyms import Pseudonymizer
from gateway.subjects.repository import disclosures_about


@dataclass(frozen=True)
class Disclosure:
    """One disclosure: audit event ``sequence`` at ``timestamp`` (aware, UTC) gave
    ``fields_disclosed`` to client ``client_id`` (registered as ``client_name``; the
    person at the client ``user_id`` when it said) through ``service`` of ``partner``
    for ``purpose`` on ``legal_basis`` (catalog keys); ``subject_role`` says whether the
    person was named by DNI, by CUI or both."""

    sequence: int
    timestamp: datetime
    client_id: str | None
    client_name: str | None
    user_id: str | None
    purpose: str | None
    legal_basis: str | None
    service: str
    partner: str | None
    fields_disclosed: list[str]
    subject_role: list[str]

    def as_record(self) -> dict[str, Any]:
        """The API's record (``gateway.subjects.schemas.DisclosureRecord``)."""
        return {
            "sequence": self.sequence,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "client_id": self.client_id,
            "client_name": self.client_name,
            "user_id": self.user_id,
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "service": self.service,
            "partner": self.partner,
            "fields_disclosed": self.fields_disclosed,
            "subject_role": self.subject_role,
        }


@dataclass(frozen=True)
class DisclosurePage:
    """Disclosures in sequence order; ``next_after`` is the sequence number to continue
    after, None on the last page."""

    items: list[Disclosure]
    next_after: int | None


def subject_refs(pseudonyms: Pseudonymizer, number: str) -> dict[str, str]:
    """The pseudonyms a person with this 8-digit number appears under: pseudonym ->
    ``dni`` or ``cui``."""
    return {pseudonyms.of("dni", number): "dni", pseudonyms.of("cui", number): "cui"}


async def disclosures_page(
    session: AsyncSession,
    pseudonyms: Pseudonymizer,
    catalog: Catalog,
    number: str,
    after: int = 0,
    limit: int = 200,
) -> DisclosurePage:
    """Disclosures about the person with the canonical 8-digit ``number``, after
    sequence ``after``: of up to ``limit`` allowed events read, those that disclosed
    fields (a page may hold fewer than ``limit`` while more follow)."""
    refs = subject_refs(pseudonyms, number)
    oversight = [sid for sid, s in catalog.services.items() if s.data_category == "audit"]
    rows = await disclosures_about(session, list(refs), oversight, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    ids = {r["client_id"] for r in rows if r["client_id"]}
    names = await ClientRepository(session).names(ids) if ids else {}
    items = [
        Disclosure(
            sequence=r["seq"],
            timestamp=r["occurred_at"],
            client_id=r["client_id"],
            client_name=names.get(r["client_id"]),
            user_id=r.get("user_id"),
            purpose=r["purpose"],
            legal_basis=r.get("legal_basis"),
            service=r["service"],
            partner=r.get("partner"),
            fields_disclosed=list(r["fields"]),
            subject_role=sorted({role for ref, role in refs.items() if ref in r["subjects"]}),
        )
        for r in rows
        if r.get("fields")
    ]
    return DisclosurePage(items, rows[-1]["seq"] if more and rows else None)


async def every_disclosure(
    session: AsyncSession,
    pseudonyms: Pseudonymizer,
    catalog: Catalog,
    number: str,
    *,
    at_most: int = 10_000,
) -> tuple[list[Disclosure], bool]:
    """Every disclosure about the person, oldest first, read in pages of 1,000: (the
    disclosures, whether there were more than ``at_most``, which are left out)."""
    found: list[Disclosure] = []
    after = 0
    while True:
        page = await disclosures_page(session, pseudonyms, catalog, number, after, 1000)
        found.extend(page.items)
        if len(found) > at_most:
            return found[:at_most], True
        if page.next_after is None:
            return found, False
        after = page.next_after


@dataclass(frozen=True)
class DisclosureReport:
    """The ARCO answer about one person: the ``document`` number as it is printed, the
    time it was ``generated_at`` (aware), the ``disclosures`` oldest first
    (``truncated`` when more were left out), the verification of the audit chain run
    for it (``chain``; None when none was run) and the catalog whose legal bases it
    cites."""

    document: str
    generated_at: datetime
    disclosures: list[Disclosure]
    chain: Report | None
    catalog: Catalog | None = None
    truncated: bool = False


async def disclosure_report(
    session: AsyncSession,
    pseudonyms: Pseudonymizer,
    catalog: Catalog,
    number: str,
    database_url: str,
) -> DisclosureReport:
    """Every disclosure about the person with the canonical 8-digit ``number`` and the
    verification of the whole audit chain they come from (hash chain and signed
    checkpoints, as ``GET /v1/audit/verify`` runs it; in a worker thread, on a
    connection of its own), read in ``session``, which this does not write to.

    The whole chain, not only the person's events: a deleted disclosure shows only as a
    gap in the chain. At 210,000-470,000 events a second (docs/benchmarks.md) a log of
    ten million events takes 20-50 seconds, which the person's report is worth."""
    found, truncated = await every_disclosure(session, pseudonyms, catalog, number)
    chain = await asyncio.to_thread(verify, database_url)
    return DisclosureReport(
        document=number,
        generated_at=datetime.now(UTC),
        disclosures=found,
        chain=chain,
        catalog=catalog,
        truncated=truncated,
    )
