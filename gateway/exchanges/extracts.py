"""Which partner extract feeds each exchange: a registry by catalog service id.

An extract reads one page of a partner's data for a run's window and answers plain
records and the cursor of the next page (None at the end). Adding an exchange for a new
service means adding its extract here; the runner and the staging are the same for all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.catalog.models import ExchangeSpec
from gateway.exchanges.ports import Consents
from gateway.partners.errors import PartnerNotFound
from gateway.partners.ports import Bank, CivilRegistry, HealthRegistry, TelecomRegistry
from gateway.partners.registry import PartnerRegistry

Page = tuple[list[dict[str, Any]], str | None]


@dataclass(frozen=True)
class Window:
    """What an extract reads: the run's parameters and where it stands."""

    spec: ExchangeSpec
    start: date
    end: date
    params: dict[str, Any]
    cursor: str | None
    session: AsyncSession  # the step's transaction, for reads of the gateway's own data


@dataclass(frozen=True)
class Sources:
    partners: PartnerRegistry
    consents: Consents


Extract = Callable[[Sources, Window], Awaitable[Page]]


async def newborns(sources: Sources, w: Window) -> Page:
    page = await sources.partners.get(CivilRegistry).newborns(
        w.params.get("ubigeo") or [], w.start, w.end, w.cursor, w.spec.chunk_size
    )
    return [n.as_record() for n in page.items], page.next_cursor


async def health_records(sources: Sources, w: Window) -> Page:
    extract = await sources.partners.get(HealthRegistry).records_extract(
        w.start, w.end, w.cursor, w.spec.chunk_size
    )
    return list(extract.rows), extract.next_cursor


async def caregivers_lines(sources: Sources, w: Window) -> Page:
    """The phone lines of consenting caregivers, a page of caregivers at a time."""
    dnis, following = await sources.consents.caregivers(w.session, w.cursor, w.spec.chunk_size)
    telecom = sources.partners.get(TelecomRegistry)
    rows: list[dict[str, Any]] = []
    for dni in dnis:
        try:
            lines = await telecom.phone_lines(dni)
        except PartnerNotFound:
            lines = []
        rows += [{"dni": dni, **x.as_record()} for x in lines]
    return rows, following


async def settlements(sources: Sources, w: Window) -> Page:
    booked = await sources.partners.get(Bank).settled_payments()
    return [b.as_record() for b in booked if w.start <= b.booking_date <= w.end], None


async def card_deliveries(sources: Sources, w: Window) -> Page:
    """The bank's extract of the debit cards delivered in the window."""
    page = await sources.partners.get(Bank).card_deliveries(
        w.start, w.end, w.cursor, w.spec.chunk_size
    )
    return [d.as_record() for d in page.items], page.next_cursor


EXTRACTS: dict[str, Extract] = {
    "reniec.newborns": newborns,
    "minsa_his.health-extract": health_records,
    "osiptel.lines-refresh": caregivers_lines,
    "bn.reconciliation": settlements,
    "bn.card-deliveries": card_deliveries,
}


def extract_for(service: str) -> Extract:
    """The extract of a catalog service; KeyError for a service no exchange can stage."""
    return EXTRACTS[service]
