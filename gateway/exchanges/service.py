"""Running periodic exchanges as durable jobs.

A run moves through the partner's pages one chunk at a time. Each chunk is stored
(sealed) together with the run's new cursor, its audit event and its counters in one
transaction, so a crash at any point leaves either the whole chunk or none of it, and a
resumed run continues from the cursor after the last stored chunk: no record is missing
or stored twice. Runs are claimed with a lease; a process that dies loses its lease when
it expires, and another process takes the run over. On PostgreSQL candidates are
picked with ``FOR UPDATE SKIP LOCKED``; on both databases the claim and every checkpoint
are guarded by the lease owner, so two processes never store the same chunk. While the
partner is down the run is retried with exponential backoff (``not_before``).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.events import AuditEvent
from audit.store import append
from gateway.catalog.models import Catalog, ExchangeSpec
from gateway.consent.service import ConsentService
from gateway.core.db import transaction
from gateway.core.keyring import DataKeyring, SealedColumn
from gateway.core.leases import claim
from gateway.core.problems import NotFound
from gateway.core.pseudonyms import Pseudonymizer
from gateway.exchanges.models import ExchangeChunk, ExchangeRun
from gateway.partners.errors import PartnerError, PartnerNotFound
from gateway.partners.ports import Bank, CivilRegistry, HealthRegistry, TelecomRegistry
from gateway.partners.registry import PartnerRegistry

log = structlog.get_logger("gateway.exchanges")
MAX_ATTEMPTS = 12


def _chunk_aad(row: Any) -> bytes:
    return f"exchange_chunks\x00{row['run_id']}\x00{row['chunk_no']}".encode()


SEALED_COLUMNS = [
    SealedColumn("exchange_chunks", ExchangeChunk.__table__, "sealed", _chunk_aad),  # type: ignore[arg-type]
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
    }


class ExchangeService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        keyring: DataKeyring,
        partners: PartnerRegistry,
        pseudonyms: Pseudonymizer,
        consents: ConsentService,
        lease_seconds: float = 30.0,
    ) -> None:
        self.consents = consents
        self.sessions = sessions
        self.catalog = catalog
        self.keyring = keyring
        self.partners = partners
        self.pseudonyms = pseudonyms
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = f"{os.getpid()}-{secrets.token_hex(4)}"
        # Slots this process has already queued or seen queued: asked of the database once.
        self._slots_seen: set[str] = set()

    def spec(self, name: str) -> ExchangeSpec:
        spec = self.catalog.exchanges.get(name)
        if spec is None:
            raise NotFound("no exchange with this name in the catalog")
        return spec

    # -- triggering and reading --------------------------------------------------------

    async def trigger(
        self, name: str, params: dict[str, Any], triggered_by: str, slot: str | None = None
    ) -> dict[str, Any] | None:
        """Queue a run; None when a scheduled run of this slot already exists."""
        self.spec(name)
        now = datetime.now(UTC)
        run = ExchangeRun(
            run_id=str(uuid.uuid4()),
            name=name,
            slot=slot,
            state="queued",
            params=params,
            cursor=None,
            chunks_done=0,
            records=0,
            attempts=0,
            not_before=now,
            triggered_by=triggered_by,
            created_at=now,
        )
        try:
            async with transaction(self.sessions) as session:
                session.add(run)
        except IntegrityError:
            return None
        return view(run)

    async def get(self, name: str, run_id: str) -> dict[str, Any]:
        async with transaction(self.sessions) as session:
            run = await session.get(ExchangeRun, run_id)
        if run is None or run.name != name:
            raise NotFound("no run with this id for this exchange")
        return view(run)

    async def recent(self, name: str, limit: int = 5) -> list[dict[str, Any]]:
        async with transaction(self.sessions) as session:
            runs = (
                (
                    await session.execute(
                        select(ExchangeRun)
                        .where(ExchangeRun.name == name)
                        .order_by(ExchangeRun.created_at.desc())
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
        return [view(r) for r in runs]

    async def chunks(
        self, name: str, run_id: str, first: int, count: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]], int | None]:
        """Up to ``count`` stored chunks of a run from chunk ``first``, opened: the run,
        its records in order, and the next chunk to ask for (None once the run has
        finished and nothing follows; the same number while it is still running)."""
        run = await self.get(name, run_id)
        async with transaction(self.sessions) as session:
            chunks = (
                (
                    await session.execute(
                        select(ExchangeChunk)
                        .where(ExchangeChunk.run_id == run_id, ExchangeChunk.chunk_no >= first)
                        .order_by(ExchangeChunk.chunk_no)
                        .limit(count)
                    )
                )
                .scalars()
                .all()
            )
        rows: list[dict[str, Any]] = []
        for chunk in chunks:
            aad = _chunk_aad({"run_id": chunk.run_id, "chunk_no": chunk.chunk_no})
            rows += json.loads(await self.keyring.open(self.sessions, chunk.sealed, aad))
        following = first + len(chunks)
        finished = run["state"] in ("succeeded", "failed")
        return run, rows, None if finished and following >= run["chunks_done"] else following

    async def records(self, run_id: str) -> list[dict[str, Any]]:
        """The staged records of a run, opened chunk by chunk, in order."""
        async with transaction(self.sessions) as session:
            chunks = (
                (
                    await session.execute(
                        select(ExchangeChunk)
                        .where(ExchangeChunk.run_id == run_id)
                        .order_by(ExchangeChunk.chunk_no)
                    )
                )
                .scalars()
                .all()
            )
        out: list[dict[str, Any]] = []
        for chunk in chunks:
            aad = _chunk_aad({"run_id": chunk.run_id, "chunk_no": chunk.chunk_no})
            out += json.loads(await self.keyring.open(self.sessions, chunk.sealed, aad))
        return out

    # -- scheduling ------------------------------------------------------------------

    async def schedule_due(self, today: date | None = None) -> list[str]:
        """Queue the current slot of every declared exchange (once, across processes: the
        slot is unique in the database). A process asks once per slot; the worker polls
        several times a second, and a refused insert per exchange and poll would keep
        the database busy for nothing."""
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
            if await self.trigger(name, params, "schedule", slot=slot):
                queued.append(name)
            self._slots_seen.add(slot)
        return queued

    # -- working -----------------------------------------------------------------------

    async def claim(self) -> str | None:
        run_id = await claim(self.sessions, ExchangeRun, ExchangeRun.run_id, self.owner, self.lease)
        if run_id is not None:
            async with transaction(self.sessions) as session:
                await session.execute(
                    update(ExchangeRun)
                    .where(ExchangeRun.run_id == run_id, ExchangeRun.started_at.is_(None))
                    .values(started_at=datetime.now(UTC))
                )
        return run_id

    async def work(self, run_id: str) -> str:
        """Carry a claimed run as far as it goes; returns its state afterwards."""
        async with transaction(self.sessions) as session:
            run = await session.get(ExchangeRun, run_id)
        assert run is not None
        spec = self.spec(run.name)
        grant = self.catalog.services[spec.service].purposes[spec.purpose]
        params = run.params
        cursor, chunk_no = run.cursor, run.chunks_done
        service = self.catalog.services[spec.service]
        consent_bound = self.catalog.legal_bases[grant.legal_basis].requires_consent
        while True:
            try:
                found, following = await self._fetch(spec, params, cursor)
            except PartnerError as exc:
                return await self._postpone(run_id, run.attempts + 1, exc.slug)
            if consent_bound:  # stage only the children whose caregiver consented
                refs = [self.pseudonyms.of("cui", str(r.get("cui"))) for r in found]
                async with transaction(self.sessions) as session:  # this step's read
                    covered = await self.consents.covered(
                        session, sorted(set(refs)), spec.purpose, service.data_category
                    )
                found = [row for ref, row in zip(refs, found, strict=True) if ref in covered]
            # Only the purpose's fields are staged (the broker's projection rule).
            rows = [{k: v for k, v in r.items() if k in grant.fields} for r in found]
            done = following is None
            if not await self._checkpoint(run_id, spec, chunk_no, rows, following, done):
                return "lease-lost"
            chunk_no += 1
            cursor = following
            if done:
                return "succeeded"

    async def _fetch(
        self, spec: ExchangeSpec, params: dict[str, Any], cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the partner's extract for this exchange's service."""
        start = date.fromisoformat(params["born_from"])
        end = date.fromisoformat(params["born_to"])
        if spec.service == "reniec.newborns":
            page = await self.partners.get(CivilRegistry).newborns(
                params.get("ubigeo") or [], start, end, cursor, spec.chunk_size
            )
            return [n.as_record() for n in page.items], page.next_cursor
        if spec.service == "minsa_his.health-extract":
            extract = await self.partners.get(HealthRegistry).records_extract(
                start, end, cursor, spec.chunk_size
            )
            return list(extract.rows), extract.next_cursor
        if spec.service == "osiptel.lines-refresh":
            async with transaction(self.sessions) as session:  # this step's read
                dnis, following = await self.consents.caregivers(session, cursor, spec.chunk_size)
            telecom = self.partners.get(TelecomRegistry)
            rows: list[dict[str, Any]] = []
            for dni in dnis:
                try:
                    lines = await telecom.phone_lines(dni)
                except PartnerNotFound:
                    lines = []
                rows += [
                    {"dni": dni, "number": x.number, "operator": x.operator, "modality": x.modality}
                    for x in lines
                ]
            return rows, following
        if spec.service == "bn.reconciliation":
            booked = await self.partners.get(Bank).settled_payments()
            return [
                {
                    "end_to_end_id": b.end_to_end_id,
                    "amount": b.amount,
                    "booking_date": b.booking_date.isoformat(),
                    "msg_id": b.msg_id,
                }
                for b in booked
                if start <= b.booking_date <= end
            ], None
        raise ValueError(f"no extract for service {spec.service}")

    async def _checkpoint(
        self,
        run_id: str,
        spec: ExchangeSpec,
        chunk_no: int,
        rows: list[dict[str, Any]],
        next_cursor: str | None,
        done: bool,
    ) -> bool:
        """Store one chunk, its audit event and the run's new position, atomically."""
        now = datetime.now(UTC)
        key = {"run_id": run_id, "chunk_no": chunk_no}
        sealed = self.keyring.encrypt(json.dumps(rows).encode(), _chunk_aad(key))
        service = self.catalog.services[spec.service]
        subjects = [ref for r in rows for ref in self.pseudonyms.of_record(r)]
        async with transaction(self.sessions) as session:
            moved = await session.execute(
                update(ExchangeRun)
                .where(
                    ExchangeRun.run_id == run_id,
                    ExchangeRun.lease_owner == self.owner,
                    ExchangeRun.chunks_done == chunk_no,
                )
                .values(
                    cursor=next_cursor,
                    chunks_done=chunk_no + 1,
                    records=ExchangeRun.records + len(rows),
                    attempts=0,
                    last_error=None,
                    lease_expires_at=now + self.lease,
                    state="succeeded" if done else "running",
                    finished_at=now if done else None,
                )
            )
            if not getattr(moved, "rowcount", 0):
                return False  # another process holds the run now: store nothing
            session.add(ExchangeChunk(**key, rows=len(rows), sealed=sealed, created_at=now))
            event = self._event(spec, f"exchange:{run_id}:{chunk_no}")
            event.subjects = subjects
            event.fields = list(service.purposes[spec.purpose].fields)
            event.response_bytes = len(sealed)
            await append(session, event)
        return True

    def _event(self, spec: ExchangeSpec, request_id: str) -> AuditEvent:
        """The audit event of one partner call made by an exchange (no client: the
        gateway itself acts, on the catalog's grant)."""
        service = self.catalog.services[spec.service]
        return AuditEvent(
            request_id=request_id,
            client_id=None,
            service=spec.service,
            purpose=spec.purpose,
            legal_basis=service.purposes[spec.purpose].legal_basis,
            partner=service.partner,
            operation=service.operation,
        )

    async def _postpone(self, run_id: str, attempts: int, error: str) -> str:
        now = datetime.now(UTC)
        failed = attempts >= MAX_ATTEMPTS
        async with transaction(self.sessions) as session:
            run = await session.get(ExchangeRun, run_id)
            assert run is not None
            event = self._event(
                self.spec(run.name), f"exchange:{run_id}:{run.chunks_done}:attempt-{attempts}"
            )
            event.outcome = event.reason = error
            event.status = 503
            await append(session, event)
            await session.execute(
                update(ExchangeRun)
                .where(ExchangeRun.run_id == run_id, ExchangeRun.lease_owner == self.owner)
                .values(
                    state="failed" if failed else "queued",
                    attempts=attempts,
                    last_error=error,
                    not_before=now + timedelta(seconds=min(300.0, 0.5 * 2**attempts)),
                    lease_owner=None,
                    lease_expires_at=None,
                    finished_at=now if failed else None,
                )
            )
        log.warning("exchange postponed", run_id=run_id, attempts=attempts, error=error)
        return "failed" if failed else "queued"

    async def work_available(self) -> int:
        """Claim and work runs until none is ready; returns how many were worked."""
        worked = 0
        while (run_id := await self.claim()) is not None:
            await self.work(run_id)
            worked += 1
        return worked

    async def run_forever(
        self, poll_seconds: float, schedule: bool, also: Callable[[], Awaitable[int]] | None = None
    ) -> None:
        """Schedule and work exchange runs (and ``also``, the payment runs) until cancelled."""
        while True:
            try:
                if schedule:
                    await self.schedule_due()
                await self.work_available()
                if also is not None:
                    await also()
            except Exception as exc:  # the next round tries again
                log.warning("exchange worker round failed", error=type(exc).__name__)
            await asyncio.sleep(poll_seconds)
