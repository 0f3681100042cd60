"""Periodic exchanges: queueing runs, reading them and the records they staged.

A run moves through the partner's pages one chunk at a time (``gateway.exchanges.jobs``,
worked by ``gateway.jobs.JobRunner``). Each chunk is stored (sealed) together with the
run's new cursor, its audit event and its counters in one transaction, so a crash at
any point leaves either the whole chunk or none of it, and a resumed run continues from
the cursor after the last stored chunk: no record is missing or stored twice. Every
method works in the caller's session; none commits.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.catalog.models import Catalog, ExchangeSpec
from gateway.core.data_keys import DataKeyring, SealedColumn
from gateway.core.i18n import N_
from gateway.core.problems import NotFound
from gateway.core.pseudonyms import Pseudonymizer
from gateway.exchanges.models import ExchangeChunk, ExchangeRun
from gateway.exchanges.ports import Consents
from gateway.exchanges.repository import ExchangeRepository
from gateway.jobs.starters import Starter
from gateway.partners.registry import PartnerRegistry


def chunk_aad(row: Any) -> bytes:
    return f"exchange_chunks\x00{row['run_id']}\x00{row['chunk_no']}".encode()


SEALED_COLUMNS = [
    SealedColumn("exchange_chunks", ExchangeChunk.__table__, "sealed", chunk_aad),  # type: ignore[arg-type]
]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def view(run: ExchangeRun) -> dict[str, Any]:
    return {
        "id": run.run_id,
        "exchange": run.name,
        "state": run.state,
        "params": run.params,
        "chunks_done": run.chunks_done,
        "records": run.records,
        "attempts": run.attempts,
        "last_error": run.last_error,
        "more_pages": run.state in ("queued", "running"),
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "next_attempt_at": _iso(run.not_before) if run.state == "queued" else None,
        "triggered_by": run.triggered_by,
        "triggered_by_user": run.triggered_by_user,
    }


class ExchangeService:
    def __init__(
        self,
        catalog: Catalog,
        keyring: DataKeyring,
        partners: PartnerRegistry,
        pseudonyms: Pseudonymizer,
        consents: Consents,
    ) -> None:
        self.catalog = catalog
        self.keyring = keyring
        self.partners = partners
        self.pseudonyms = pseudonyms
        self.consents = consents
        # Slots this process has already queued or seen queued: asked of the database once.
        self._slots_seen: set[str] = set()

    def spec(self, name: str) -> ExchangeSpec:
        spec = self.catalog.exchanges.get(name)
        if spec is None:
            raise NotFound(N_("no exchange with this name in the catalog"))
        return spec

    # -- triggering and reading --------------------------------------------------------

    async def trigger(
        self,
        session: AsyncSession,
        name: str,
        params: dict[str, Any],
        starter: Starter,
        slot: str | None = None,
    ) -> dict[str, Any] | None:
        """Queue a run started by ``starter`` (kept as ``triggered_by`` and
        ``triggered_by_user``, and named by every audit event of the run); None when a
        scheduled run of this slot already exists."""
        self.spec(name)
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "run_id": str(uuid.uuid4()),
            "name": name,
            "slot": slot,
            "state": "queued",
            "params": params,
            "cursor": None,
            "chunks_done": 0,
            "records": 0,
            "attempts": 0,
            "not_before": now,
            "triggered_by": starter.triggered_by,
            "triggered_by_user": starter.triggered_by_user,
            "created_at": now,
        }
        if not await ExchangeRepository(session).add_run(values):
            return None
        return view(ExchangeRun(**values))

    async def get(self, session: AsyncSession, name: str, run_id: str) -> dict[str, Any]:
        run = await ExchangeRepository(session).get(run_id)
        if run is None or run.name != name:
            raise NotFound(N_("no run with this id for this exchange"))
        return view(run)

    async def recent(
        self, session: AsyncSession, name: str, limit: int = 5
    ) -> list[dict[str, Any]]:
        return [view(r) for r in await ExchangeRepository(session).recent(name, limit)]

    async def runs(
        self,
        session: AsyncSession,
        limit: int = 50,
        *,
        name: str | None = None,
        state: str | None = None,
    ) -> list[dict[str, Any]]:
        """The newest runs of every exchange (or of ``name``; in ``state`` if given), as
        :func:`view` shows one."""
        found = await ExchangeRepository(session).runs(limit, name=name, state=state)
        return [view(r) for r in found]

    async def chunks(
        self, session: AsyncSession, name: str, run_id: str, first: int, count: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]], int | None]:
        """Up to ``count`` stored chunks of a run from chunk ``first``, opened: the run,
        its records in order, and the next chunk to ask for (None once the run has
        finished and nothing follows; the same number while it is still running)."""
        run = await self.get(session, name, run_id)
        chunks = await ExchangeRepository(session).chunks(run_id, first, count)
        rows = await self._open(session, chunks)
        following = first + len(chunks)
        finished = run["state"] in ("succeeded", "failed")
        return run, rows, None if finished and following >= run["chunks_done"] else following

    async def records(self, session: AsyncSession, run_id: str) -> list[dict[str, Any]]:
        """The staged records of a run, opened chunk by chunk, in order."""
        return await self._open(session, await ExchangeRepository(session).chunks(run_id))

    async def _open(self, session: AsyncSession, chunks: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for chunk in chunks:
            aad = chunk_aad({"run_id": chunk.run_id, "chunk_no": chunk.chunk_no})
            rows += json.loads(await self.keyring.open(session, chunk.sealed, aad))
        return rows

    # -- scheduling ------------------------------------------------------------------

    async def schedule_due(self, session: AsyncSession, today: date | None = None) -> list[str]:
        """Queue the current slot of every declared exchange (once, across processes: the
        slot is unique in the database). A process asks once per slot; the runner calls
        this several times a second, and a refused insert per exchange and round would
        keep the database busy for nothing."""
        now = datetime.now(UTC)
        today = today or now.date()
        queued = []
        for name, spec in self.catalog.exchanges.items():
            slot_start = int(now.timestamp()) // spec.every_seconds * spec.every_seconds
            slot = f"{name}@{slot_start}"
            if slot in self._slots_seen:
                continue
            params = {
                "born_from": (today - timedelta(days=spec.lookback_days)).isoformat(),
                "born_to": today.isoformat(),
                "ubigeo": [],
            }
            if await self.trigger(session, name, params, Starter.schedule(), slot=slot):
                queued.append(name)
            self._slots_seen.add(slot)
        return queued
