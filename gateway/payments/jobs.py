"""A payment run as a leased job: build a chunk, send it, record the answer, reconcile.

Each step is one of these, in its own transaction owned by the runner (which also
guards it by the lease):
- build: the chunk's pain.001 is built once and stored, byte for byte, before it is
  sent; its items become ``submitted``. Every later attempt (a retry, a resumed run
  after a crash) sends the same bytes under the same MsgId, which the bank answers with
  its original report instead of paying again; the bank also refuses an EndToEndId it
  has already paid (AM05).
- send: the stored document goes to the bank; each transfer takes the outcome the bank
  adapter reads from the report (``paid``, ``rejected`` with its reason, else
  ``pending`` with the bank's code); a transfer the report does not list takes the
  block's or group's outcome. An outcome the bank pushed meanwhile (pain.002) is kept,
  and a chunk whose every transfer the bank already reported is not sent at all.
- reconcile: every item is compared with the debits booked on the programme's account
  (camt.054): paid, rejected with reason, pending, any EndToEndId debited twice, and
  any booked amount that differs from the instructed one.
A bank failure is retried with backoff.

Every call to the bank leaves an audit event in the step's transaction, naming who
started the run (``triggered_by`` as ``client_id``, ``triggered_by_user`` as
``user_id``; ``gateway.jobs.starters``): each pain.001 sent (service ``bn.payments``,
the chunk's holders as subjects, the fields the document carries), each failed attempt
(its partner error as outcome and reason, status 503) and the reconciliation's camt.054
query (service ``bn.reconciliation``).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import AuditEvent
from audit.store import append
from gateway.catalog.models import Catalog
from gateway.jobs import Done, LeaseLost, Retry
from gateway.partners.errors import PartnerError
from gateway.partners.models import Outcome, Transfer
from gateway.partners.ports import Bank
from gateway.payments.models import PaymentChunk, PaymentRun
from gateway.payments.repository import PaymentRepository
from gateway.payments.service import PaymentService, chunk_aad, item_aad

log = structlog.get_logger("gateway.payments")

PAYMENT_SERVICE = "bn.payments"
RECONCILIATION_SERVICE = "bn.reconciliation"
PURPOSE = "payment"
# What a pain.001 carries of each transfer to the bank (``gateway.partners.models.Transfer``).
SENT_FIELDS = ("end_to_end_id", "amount", "name", "cci")
# Transfers whose debits one camt.054 query asks for (whole messages, at least one): a
# parsed notification of 25,000 entries held about 150 MiB of a gateway process.
RECONCILE_TRANSFERS = 2_000


def _reason(outcome: Outcome, status: str | None, reason: str | None) -> str | None:
    """A rejected item keeps the bank's reason code, a pending one the bank's status."""
    return reason if outcome == "rejected" else status if outcome == "pending" else None


class PaymentRunJob:
    name = "payment-runs"
    table = PaymentRun

    def __init__(self, payments: PaymentService, catalog: Catalog) -> None:
        # an instance attribute: read from the class through self, the column would act as
        # a descriptor on this (unmapped) object
        self.key = PaymentRun.run_id
        self.payments = payments
        self.keyring = payments.keyring
        self.catalog = catalog

    async def claimed(self, session: AsyncSession, job_id: str) -> None:
        return None

    async def retrying(
        self, session: AsyncSession, job_id: str, attempts: int, reason: str
    ) -> None:
        run = await PaymentRepository(session).run(job_id)
        if run is None:
            return
        reconciling = run.chunks_done >= run.chunks
        event = self._event(
            run,
            RECONCILIATION_SERVICE if reconciling else PAYMENT_SERVICE,
            f"payment:{job_id}:{run.chunks_done}:attempt-{attempts}",
        )
        event.outcome = event.reason = reason
        event.status = 503
        await append(session, event)

    def _event(self, run: PaymentRun, service_id: str, request_id: str) -> AuditEvent:
        """The audit event of one bank call made for ``run``, on the catalog's grant of
        the purpose ``payment``, naming who started the run."""
        service = self.catalog.services[service_id]
        return AuditEvent(
            request_id=request_id,
            client_id=run.triggered_by,
            user_id=run.triggered_by_user,
            service=service_id,
            purpose=PURPOSE,
            legal_basis=service.purposes[PURPOSE].legal_basis,
            partner=service.partner,
            operation=service.operation,
        )

    async def step(self, session: AsyncSession, job_id: str) -> Done | None:
        bank = self.payments.partners.get(Bank)
        repo = PaymentRepository(session)
        run = await repo.run(job_id)
        if run is None:
            raise LeaseLost
        for chunk_no in range(run.chunks_done, run.chunks):
            chunk = await repo.chunk(job_id, chunk_no)
            if chunk is None:
                await self._build(session, run, chunk_no, bank)
                return None  # stored before it is sent
            if chunk.state != "reported":
                await self._send(session, run, chunk, bank)
                return None
        await self._reconcile(session, run, bank)
        return Done("done")

    async def _build(
        self, session: AsyncSession, run: PaymentRun, chunk_no: int, bank: Bank
    ) -> None:
        repo = PaymentRepository(session)
        transfers = []
        for item in await repo.chunk_items(run.run_id, chunk_no):
            aad = item_aad({"end_to_end_id": item.end_to_end_id})
            personal = json.loads(await self.keyring.open(session, item.sealed, aad))
            transfers.append(
                Transfer(item.end_to_end_id, item.amount, personal["name"], personal["cci"])
            )
        now = datetime.now(UTC)
        msg_id = f"J{run.run_id.replace('-', '')[:12].upper()}{chunk_no:06d}"
        document = bank.payment_document(msg_id, now, run.requested_date, transfers)
        key = {"run_id": run.run_id, "chunk_no": chunk_no}
        repo.add_chunk(
            PaymentChunk(
                **key,
                msg_id=msg_id,
                state="built",
                document_sealed=self.keyring.encrypt(document, chunk_aad(key)),
                built_at=now,
            )
        )
        await repo.set_chunk_items(run.run_id, chunk_no, "submitted")

    async def _send(
        self, session: AsyncSession, run: PaymentRun, chunk: PaymentChunk, bank: Bank
    ) -> None:
        repo = PaymentRepository(session)
        if not await repo.waiting_in_chunk(run.run_id, chunk.chunk_no):
            # The bank already reported every transfer of this message (a pain.002 it
            # pushed while the sending was being retried, a group rejection say): it has
            # the message, so it is not sent again, and a rejection seen by the programme
            # is never followed by the payment.
            log.info("payment chunk already reported by the bank", run_id=run.run_id)
            await repo.reported(run.run_id, chunk.chunk_no, None, datetime.now(UTC))
            await repo.update_run(
                run.run_id, chunks_done=chunk.chunk_no + 1, attempts=0, last_error=None
            )
            return
        aad = chunk_aad({"run_id": run.run_id, "chunk_no": chunk.chunk_no})
        document = await self.keyring.open(session, chunk.document_sealed, aad)
        try:
            report = await bank.submit_payments(document)
        except PartnerError as exc:
            raise Retry(exc.slug) from None
        statuses = {t.end_to_end_id: t for t in report.transactions}
        # Items that end alike are updated together: a statement per outcome.
        outcomes: dict[tuple[Outcome, str | None], list[str]] = defaultdict(list)
        for e2e in await repo.chunk_ids(run.run_id, chunk.chunk_no):
            listed = statuses.get(e2e)
            # not listed: the block's or group's status
            status = listed.status if listed else report.unlisted_status
            reason = listed.reason if listed else report.unlisted_reason
            outcome = bank.outcome(status)
            outcomes[(outcome, _reason(outcome, status, reason))].append(e2e)
        for (state, reason), e2es in outcomes.items():
            await repo.set_items(e2es, state, reason)
        event = self._event(run, PAYMENT_SERVICE, f"payment:{run.run_id}:{chunk.chunk_no}")
        event.subjects = await repo.chunk_holders(run.run_id, chunk.chunk_no)
        event.fields = list(SENT_FIELDS)
        event.request_bytes = len(document)
        await append(session, event)
        await repo.reported(run.run_id, chunk.chunk_no, report.group_status, datetime.now(UTC))
        await repo.update_run(
            run.run_id, chunks_done=chunk.chunk_no + 1, attempts=0, last_error=None
        )

    async def _reconcile(self, session: AsyncSession, run: PaymentRun, bank: Bank) -> None:
        """Compare the run's items with the debits the bank booked for the run's own
        messages. A second debit can only come from the bank executing one of these
        messages twice (EndToEndIds are unique across runs and a chunk is one message,
        always resent byte for byte), so the run's messages are where to look; asking
        for the whole account history would grow with every run of the operation."""
        repo = PaymentRepository(session)
        msg_ids = await repo.msg_ids(run.run_id)
        # A few messages per camt.054, so that no answer holds the whole run: the parsed
        # document costs far more memory than its debits, which are tallied as they come.
        per_call = max(1, RECONCILE_TRANSFERS // self.payments.chunk_size)
        debits: Counter[str] = Counter()
        amounts: dict[str, set[Decimal]] = defaultdict(set)
        try:
            for start in range(0, len(msg_ids), per_call):
                for b in await bank.settled_payments(msg_ids[start : start + per_call]):
                    debits[b.end_to_end_id] += 1
                    amounts[b.end_to_end_id].add(Decimal(b.amount))
        except PartnerError as exc:
            raise Retry(exc.slug) from None
        event = self._event(run, RECONCILIATION_SERVICE, f"payment:{run.run_id}:reconcile")
        event.fields = list(self.catalog.services[RECONCILIATION_SERVICE].purposes[PURPOSE].fields)
        await append(session, event)
        items = await repo.outcomes(run.run_id)
        twice = sorted(e2e for e2e, _, _ in items if debits[e2e] > 1)
        unbooked = sorted(e2e for e2e, status, _ in items if status == "paid" and not debits[e2e])
        booked_rejected = sorted(
            e2e for e2e, status, _ in items if status == "rejected" and debits[e2e]
        )
        mismatched = sorted(
            e2e for e2e, _, amount in items if amounts[e2e] and amounts[e2e] != {Decimal(amount)}
        )
        summary = dict(run.reconciliation or {})
        summary.update(
            {
                "reconciled_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "booked": sum(1 for e2e, _, _ in items if debits[e2e]),
                "second_debits": twice,
                "paid_not_booked": unbooked,
                "rejected_but_booked": booked_rejected,
                "amount_mismatches": mismatched,
            }
        )
        await repo.update_run(run.run_id, reconciliation=summary)
        if twice:
            log.error("second debit detected", run_id=run.run_id, count=len(twice))
        if mismatched:
            log.error(
                "booked amount differs from instructed", run_id=run.run_id, count=len(mismatched)
            )
