"""Retention: delete what the catalog says may no longer be kept, and say how much.

Each store of personal data declares its data category; the catalog gives the category's
retention. Consents are kept for the retention period after they end (revoked or
expired) and are then deleted with their revisions; replay-cache answers are deleted
that long after the first request. Audit events are not purged here: they leave the
database only through ``audit archive``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.catalog.models import Catalog
from gateway.consent.models import Consent, ConsentRevision
from gateway.core.data_keys import SealedColumn
from gateway.core.db import transaction
from gateway.idempotency.models import IdempotencyRecord

log = structlog.get_logger("gateway.retention")


async def purge(
    sessions: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> dict[str, int]:
    """Rows past retention, per category (deleted unless ``dry_run``)."""
    now = now or datetime.now(UTC)
    consent_cutoff = now - timedelta(days=catalog.data_categories["consent"].retention_days)
    replay_cutoff = now - timedelta(days=catalog.data_categories["replay-cache"].retention_days)
    ended = or_(
        Consent.ended_at < consent_cutoff,
        and_(Consent.state == "active", Consent.expires_at < consent_cutoff),
    )
    async with transaction(sessions) as session:
        ids = (await session.execute(select(Consent.consent_id).where(ended))).scalars().all()
        stale_replays = (
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(IdempotencyRecord.created_at < replay_cutoff)
        )
        replays = int((await session.execute(stale_replays)).scalar_one())
        if not dry_run:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                await session.execute(
                    delete(ConsentRevision).where(ConsentRevision.consent_id.in_(chunk))
                )
                await session.execute(delete(Consent).where(Consent.consent_id.in_(chunk)))
            await session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.created_at < replay_cutoff)
            )
    counts = {"consent": len(ids), "replay-cache": replays}
    for category, count in (await _staged(sessions, catalog, now, dry_run)).items():
        counts[category] = counts.get(category, 0) + count
    return counts


async def _staged(
    sessions: async_sessionmaker[AsyncSession], catalog: Catalog, now: datetime, dry_run: bool
) -> dict[str, int]:
    """Pushed messages, exchange runs and payment runs, each with what it staged, past the
    retention of its data category (counted in rows of data)."""
    from gateway.exchanges.models import ExchangeChunk, ExchangeRun
    from gateway.inbound.feeds import FEEDS
    from gateway.inbound.models import InboundChunk, InboundMessage
    from gateway.payments.models import PaymentChunk, PaymentItem, PaymentRun

    def cutoff(service: str) -> tuple[str, datetime]:
        category = catalog.services[service].data_category
        return category, now - timedelta(days=catalog.data_categories[category].retention_days)

    counts: dict[str, int] = {}
    async with transaction(sessions) as session:
        for feed in FEEDS.values():
            category, before = cutoff(feed.service)
            old = InboundMessage.partner == feed.partner, InboundMessage.kind == feed.name
            rows = (
                await session.execute(
                    select(func.coalesce(func.sum(InboundMessage.rows_accepted), 0)).where(
                        *old, InboundMessage.received_at < before
                    )
                )
            ).scalar_one()
            counts[category] = counts.get(category, 0) + int(rows)
            if not dry_run and rows:
                ids = select(InboundMessage.message_id).where(
                    *old, InboundMessage.received_at < before
                )
                await session.execute(
                    delete(InboundChunk).where(
                        InboundChunk.partner == feed.partner, InboundChunk.message_id.in_(ids)
                    )
                )
                await session.execute(
                    delete(InboundMessage).where(*old, InboundMessage.received_at < before)
                )
        for name, spec in catalog.exchanges.items():
            category, before = cutoff(spec.service)
            finished = ExchangeRun.name == name, ExchangeRun.finished_at < before
            rows = (
                await session.execute(
                    select(func.coalesce(func.sum(ExchangeRun.records), 0)).where(*finished)
                )
            ).scalar_one()
            counts[category] = counts.get(category, 0) + int(rows)
            if not dry_run and rows:
                runs = select(ExchangeRun.run_id).where(*finished)
                await session.execute(delete(ExchangeChunk).where(ExchangeChunk.run_id.in_(runs)))
                await session.execute(delete(ExchangeRun).where(*finished))
        category, before = cutoff("bn.payments")
        done = PaymentRun.state.in_(("done", "failed")), PaymentRun.finished_at < before
        rows = (
            await session.execute(select(func.coalesce(func.sum(PaymentRun.items), 0)).where(*done))
        ).scalar_one()
        counts[category] = counts.get(category, 0) + int(rows)
        if not dry_run and rows:
            runs = select(PaymentRun.run_id).where(*done)
            await session.execute(delete(PaymentChunk).where(PaymentChunk.run_id.in_(runs)))
            await session.execute(delete(PaymentItem).where(PaymentItem.run_id.in_(runs)))
            await session.execute(delete(PaymentRun).where(*done))
    return counts


async def purge_periodically(
    sessions: async_sessionmaker[AsyncSession], catalog: Catalog, interval_seconds: float
) -> None:
    """The scheduled purge of a running gateway. Every process may run it: deleting what
    another process already deleted is a no-op."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            counts = await purge(sessions, catalog)
        except Exception:  # the next round tries again; the failure is logged
            log.exception("purge failed")
            continue
        if any(counts.values()):
            log.info("purged", **counts)


def sealed_columns() -> list[SealedColumn]:
    """Every column holding data-key ciphertexts (for re-encryption)."""
    from gateway.consent.service import SEALED_COLUMNS as CONSENTS
    from gateway.exchanges.service import SEALED_COLUMNS as EXCHANGES
    from gateway.idempotency.service import SEALED_COLUMNS as REPLAYS
    from gateway.inbound.service import SEALED_COLUMNS as INBOUND
    from gateway.partners.credentials import SEALED_COLUMNS as CREDENTIALS
    from gateway.payments.service import SEALED_COLUMNS as PAYMENTS
    from gateway.subscriptions.service import SEALED_COLUMNS as SUBSCRIPTIONS

    return [*CONSENTS, *REPLAYS, *INBOUND, *EXCHANGES, *PAYMENTS, *SUBSCRIPTIONS, *CREDENTIALS]
