"""An exchange run as a leased job: one step stages one partner page.

A step reads the next page through the exchange's extract
(``gateway.exchanges.extracts``), keeps only consenting subjects where the legal basis
asks for consent, projects the purpose's fields, and stores the sealed chunk with the
run's new cursor and its audit event in the runner's transaction. The store is guarded
by the run's position (``chunks_done``) and, by the runner, by the lease owner, so two
processes never store the same chunk. A partner failure is retried with backoff, each
failed attempt audited.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import AuditEvent
from audit.store import append
from gateway.catalog.models import ExchangeSpec
from gateway.exchanges.extracts import Sources, Window, extract_for
from gateway.exchanges.models import ExchangeRun
from gateway.exchanges.repository import ExchangeRepository
from gateway.exchanges.service import ExchangeService, chunk_aad
from gateway.jobs import Done, LeaseLost, Retry
from gateway.partners.errors import PartnerError


class ExchangeRunJob:
    name = "exchange-runs"
    table = ExchangeRun

    def __init__(self, exchanges: ExchangeService) -> None:
        # an instance attribute: read from the class through self, the column would act as
        # a descriptor on this (unmapped) object
        self.key = ExchangeRun.run_id
        self.exchanges = exchanges
        self.catalog = exchanges.catalog
        self.sources = Sources(exchanges.partners, exchanges.consents)

    async def claimed(self, session: AsyncSession, job_id: str) -> None:
        await ExchangeRepository(session).stamp_started(job_id, datetime.now(UTC))

    async def step(self, session: AsyncSession, job_id: str) -> Done | None:
        runs = ExchangeRepository(session)
        run = await runs.get(job_id)
        if run is None:
            raise LeaseLost
        spec = self.exchanges.spec(run.name)
        service = self.catalog.services[spec.service]
        grant = service.purposes[spec.purpose]
        window = Window(
            spec,
            date.fromisoformat(run.params["born_from"]),
            date.fromisoformat(run.params["born_to"]),
            run.params,
            run.cursor,
            session,
        )
        try:
            found, following = await extract_for(spec.service)(self.sources, window)
        except PartnerError as exc:
            raise Retry(exc.slug) from None
        if self.catalog.legal_bases[grant.legal_basis].requires_consent:
            # Stage only the children whose caregiver consented.
            refs = [self.exchanges.pseudonyms.of("cui", str(r.get("cui"))) for r in found]
            covered = await self.exchanges.consents.covered(
                session, sorted(set(refs)), spec.purpose, service.data_category
            )
            found = [row for ref, row in zip(refs, found, strict=True) if ref in covered]
        # Only the purpose's fields are staged (the broker's projection rule).
        rows = [{k: v for k, v in r.items() if k in grant.fields} for r in found]
        chunk_no = run.chunks_done
        now = datetime.now(UTC)
        key = {"run_id": job_id, "chunk_no": chunk_no}
        sealed = self.exchanges.keyring.encrypt(json.dumps(rows).encode(), chunk_aad(key))
        if not await runs.checkpoint(job_id, chunk_no, following, len(rows), sealed, now):
            raise LeaseLost  # another process stored this chunk: store nothing
        event = self._event(spec, f"exchange:{job_id}:{chunk_no}", run)
        event.subjects = [ref for r in rows for ref in self.exchanges.pseudonyms.of_record(r)]
        event.fields = list(grant.fields)
        event.response_bytes = len(sealed)
        await append(session, event)
        return Done("succeeded") if following is None else None

    async def retrying(
        self, session: AsyncSession, job_id: str, attempts: int, reason: str
    ) -> None:
        run = await ExchangeRepository(session).get(job_id)
        if run is None:
            return
        event = self._event(
            self.exchanges.spec(run.name),
            f"exchange:{job_id}:{run.chunks_done}:attempt-{attempts}",
            run,
        )
        event.outcome = event.reason = reason
        event.status = 503
        await append(session, event)

    def _event(self, spec: ExchangeSpec, request_id: str, run: ExchangeRun) -> AuditEvent:
        """The audit event of one partner call made by an exchange, on the catalog's
        grant, naming who started the run (``gateway.jobs.starters``): ``client_id`` the
        client that asked for it over the API, ``cli`` for an operator's command,
        ``console`` for a person in the console, ``schedule`` for the catalog's
        schedule; ``user_id`` the person, when there is one."""
        service = self.catalog.services[spec.service]
        return AuditEvent(
            request_id=request_id,
            client_id=run.triggered_by,
            user_id=run.triggered_by_user,
            service=spec.service,
            purpose=spec.purpose,
            legal_basis=service.purposes[spec.purpose].legal_basis,
            partner=service.partner,
            operation=service.operation,
        )
