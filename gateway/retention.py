"""Retention: delete what the catalog says may no longer be kept, and say how much.

Each store of personal data declares its data category; the catalog gives the category's
retention, and each feature's repository deletes its own rows past it. Consents are
kept for the retention period after they end (revoked or expired) and are then deleted
with their revisions; replay-cache answers are deleted that long after the first
request; pushed messages, exchange runs and payment runs with what they staged that long
after they were received or finished; reminder batches that long after they were asked
(the opt-outs stay: they hold a pseudonym only, and keep a phone from being reminded).
Audit events are not purged here: they leave the database only through ``audit archive``.
The job runner runs ``purge`` periodically (every process may: deleting what another
process already deleted is a no-op).

A purge that deletes something, and every purge a person runs, leaves an audit event
(service ``gateway.retention-purge``, the counts per category as its reason) naming who
started it (``gateway.jobs.starters``): ``schedule`` for the runner's periodic purge,
``cli`` and the operator's login name for ``juntos-gateway purge``. A dry run deletes
nothing and leaves no event.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import AuditEvent
from audit.store import append
from gateway.catalog.models import Catalog
from gateway.consent.repository import ConsentRepository
from gateway.core.data_keys import SealedColumn
from gateway.exchanges.repository import ExchangeRepository
from gateway.idempotency.repository import IdempotencyRepository
from gateway.inbound.feeds import FEEDS
from gateway.inbound.repository import InboundRepository
from gateway.jobs.starters import SCHEDULE, Starter
from gateway.payments.repository import PaymentRepository
from gateway.reminders.repository import ReminderRepository

log = structlog.get_logger("gateway.retention")

SERVICE = "gateway.retention-purge"


async def purge(
    session: AsyncSession,
    catalog: Catalog,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    starter: Starter | None = None,
) -> dict[str, int]:
    """Rows past retention, per category (deleted unless ``dry_run``), in the caller's
    transaction, with the purge's audit event naming ``starter`` (by default the
    schedule)."""
    now = now or datetime.now(UTC)

    def cutoff(category: str) -> datetime:
        return now - timedelta(days=catalog.data_categories[category].retention_days)

    def of(service: str) -> str:
        return catalog.services[service].data_category

    counts = {
        "consent": await ConsentRepository(session).purge_ended_before(
            cutoff("consent"), dry_run=dry_run
        ),
        "replay-cache": await IdempotencyRepository(session).purge_before(
            cutoff("replay-cache"), dry_run=dry_run
        ),
    }

    def add(category: str, count: int) -> None:
        counts[category] = counts.get(category, 0) + count

    for feed in FEEDS.values():
        category = of(feed.service)
        add(
            category,
            await InboundRepository(session).purge_received_before(
                feed.partner, feed.name, cutoff(category), dry_run=dry_run
            ),
        )
    runs = ExchangeRepository(session)
    for name, spec in catalog.exchanges.items():
        category = of(spec.service)
        add(category, await runs.purge(name, cutoff(category), dry_run=dry_run))
    category = of("bn.payments")
    add(category, await PaymentRepository(session).purge(cutoff(category), dry_run=dry_run))
    category = of("smsc.reminders")
    add(category, await ReminderRepository(session).purge(cutoff(category), dry_run=dry_run))
    starter = starter or Starter.schedule()
    if not dry_run and (any(counts.values()) or starter.triggered_by != SCHEDULE):
        await append(session, _event(starter, counts))
    return counts


def _event(starter: Starter, counts: dict[str, int]) -> AuditEvent:
    return AuditEvent(
        request_id=f"purge:{uuid.uuid4()}",
        client_id=starter.triggered_by,
        user_id=starter.triggered_by_user,
        service=SERVICE,
        purpose=None,
        partner="gateway",
        operation="purge",
        reason=json.dumps(counts, sort_keys=True, separators=(",", ":")),
    )


async def purge_logged(session: AsyncSession, catalog: Catalog) -> int:
    """``purge`` as the periodic task of a running gateway: logs what it deleted."""
    counts = await purge(session, catalog)
    if any(counts.values()):
        log.info("purged", **counts)
    return sum(counts.values())


def sealed_columns() -> list[SealedColumn]:
    """Every column holding data-key ciphertexts (for re-encryption)."""
    from gateway.consent.service import SEALED_COLUMNS as CONSENTS
    from gateway.exchanges.service import SEALED_COLUMNS as EXCHANGES
    from gateway.idempotency.service import SEALED_COLUMNS as REPLAYS
    from gateway.inbound.service import SEALED_COLUMNS as INBOUND
    from gateway.partners.credentials import SEALED_COLUMNS as CREDENTIALS
    from gateway.payments.service import SEALED_COLUMNS as PAYMENTS
    from gateway.reminders.service import SEALED_COLUMNS as REMINDERS
    from gateway.subscriptions.service import SEALED_COLUMNS as SUBSCRIPTIONS

    return [
        *CONSENTS,
        *REPLAYS,
        *INBOUND,
        *EXCHANGES,
        *PAYMENTS,
        *REMINDERS,
        *SUBSCRIPTIONS,
        *CREDENTIALS,
    ]
