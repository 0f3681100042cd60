"""Payment runs: accept a roll, pay it in pain.001 chunks, follow and reconcile.

Never twice:
- An EndToEndId is the primary key of its item: a roll cannot repeat one, nor reuse one
  from any earlier roll.
- A chunk's pain.001 is built once and stored, byte for byte, before it is sent. Every
  later attempt (a retry, a resumed run after a crash) sends the same bytes under the
  same MsgId, which the bank answers with its original report instead of paying again;
  the bank also refuses an EndToEndId it has already paid (AM05).
- Chunk building, reports and counters are written in transactions guarded by the run's
  lease, so two processes never build or record the same chunk.
Status (pain.002): a transfer's own status, else its payment information block's, else
the group's; a block- or group-level status with no transaction list applies to every
transfer of the original message. ACSC and ACSP settle, RJCT rejects with its reason,
anything else leaves the transfer pending.
Reconciliation compares every item with the debits booked on the programme's account
(camt.054): paid, rejected with reason, pending, any EndToEndId debited twice, and any
booked amount that differs from the instructed one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.consent.service import ConsentService
from gateway.core.db import transaction
from gateway.core.keyring import DataKeyring, SealedColumn
from gateway.core.leases import claim
from gateway.core.problems import NotFound, ValidationFailed
from gateway.core.pseudonyms import Pseudonymizer
from gateway.identifiers import IdentifierError, parse_cci, parse_document
from gateway.partners.errors import PartnerError
from gateway.partners.models import Transfer
from gateway.partners.ports import Bank
from gateway.partners.registry import PartnerRegistry
from gateway.payments.models import PaymentChunk, PaymentItem, PaymentRun

log = structlog.get_logger("gateway.payments")
MAX_ATTEMPTS = 12
_E2E = re.compile(r"[A-Za-z0-9-]{1,35}")


def _item_aad(row: Any) -> bytes:
    return f"payment_items\x00{row['end_to_end_id']}".encode()


def _chunk_aad(row: Any) -> bytes:
    return f"payment_chunks\x00{row['run_id']}\x00{row['chunk_no']}".encode()


SEALED_COLUMNS = [
    SealedColumn("payment_items", PaymentItem.__table__, "sealed", _item_aad),  # type: ignore[arg-type]
    SealedColumn("payment_chunks", PaymentChunk.__table__, "document_sealed", _chunk_aad),  # type: ignore[arg-type]
]


SETTLED = ("ACSC", "ACSP")


def outcome(status: str | None, reason: str | None) -> tuple[str, str | None]:
    """(item status, reason) for an ISO 20022 payment status code: ACSC/ACSP ``paid``,
    RJCT ``rejected`` with its reason code, anything else ``pending`` with the code."""
    if status in SETTLED:
        return "paid", None
    if status == "RJCT":
        return "rejected", reason
    return "pending", status


def check_item(item: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) of the first problem of one transfer, or None."""
    if not isinstance(item.get("end_to_end_id"), str) or not _E2E.fullmatch(item["end_to_end_id"]):
        return "end_to_end_id", "1 to 35 letters, digits or hyphens"
    for field, parser in (("dni", parse_document), ("cci", parse_cci)):
        try:
            parser(item.get(field))
        except IdentifierError as exc:
            return field, str(exc)
    try:
        amount = Decimal(str(item.get("amount")))
    except InvalidOperation:
        return "amount", "expected an amount in soles"
    if amount <= 0 or amount > 10_000 or amount != amount.quantize(Decimal("0.01")):
        return "amount", "more than 0, at most 10,000, two decimals"
    name = item.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 140:
        return "name", "1 to 140 characters"
    return None


class PaymentService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: DataKeyring,
        partners: PartnerRegistry,
        pseudonyms: Pseudonymizer,
        consents: ConsentService,
        chunk_size: int,
        lease_seconds: float = 30.0,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.partners = partners
        self.pseudonyms = pseudonyms
        self.consents = consents
        self.chunk_size = chunk_size
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = f"{os.getpid()}-{secrets.token_hex(4)}"

    # -- intake ------------------------------------------------------------------------

    async def accept(
        self,
        client_id: str,
        run_ref: str,
        requested_date: date,
        transfers: list[dict[str, Any]],
    ) -> tuple[int, dict[str, Any]]:
        """Queue a roll. Answers (201, run) or, for a roll already accepted under this
        reference, (200, that run). A roll none of whose transfers can be paid raises a
        422 ``validation-error`` naming each rejected row (``body.transfers[i].field``)
        and stores nothing, so its ``run_ref`` stays free for the corrected roll."""
        async with transaction(self.sessions) as session:
            existing = (
                await session.execute(
                    select(PaymentRun).where(
                        PaymentRun.client_id == client_id, PaymentRun.run_ref == run_ref
                    )
                )
            ).scalar_one_or_none()
        if existing is not None:
            return 200, await self.view(existing.run_id)
        rejections: list[dict[str, Any]] = []
        seen: set[str] = set()
        good: list[tuple[int, dict[str, Any], str]] = []
        for row, item in enumerate(transfers, start=1):
            problem = check_item(item)
            if problem is None and item["end_to_end_id"] in seen:
                problem = ("end_to_end_id", "repeated in this roll")
            if problem is not None:
                rejections.append({"row": row, "field": problem[0], "reason": problem[1]})
                continue
            seen.add(item["end_to_end_id"])
            item = {**item, "dni": parse_document(item["dni"]).number}
            good.append((row, item, self.pseudonyms.of("dni", item["dni"])))
        async with transaction(self.sessions) as session:
            known = set()
            ids = [item["end_to_end_id"] for _, item, _ in good]
            for start in range(0, len(ids), 500):
                known |= set(
                    (
                        await session.execute(
                            select(PaymentItem.end_to_end_id).where(
                                PaymentItem.end_to_end_id.in_(ids[start : start + 500])
                            )
                        )
                    ).scalars()
                )
            covered = await self.consents.covered(
                session, sorted({ref for _, _, ref in good}), "payment", "financial"
            )
        accepted: list[tuple[dict[str, Any], str]] = []
        for row, item, ref in good:
            if item["end_to_end_id"] in known:
                rejections.append(
                    {"row": row, "field": "end_to_end_id", "reason": "already in an earlier roll"}
                )
            elif ref not in covered:
                rejections.append({"row": row, "field": "dni", "reason": "consent-required"})
            else:
                accepted.append((item, ref))
        if not accepted:
            # Nothing of the roll can be paid: refused whole, so that the corrected roll
            # can be sent again under the same run_ref (nothing is stored).
            raise ValidationFailed(
                "no transfer of the roll can be paid: "
                f"{len(rejections)} rejected, fix them and send the roll again",
                extra={
                    "errors": [
                        {
                            "field": f"body.transfers[{r['row'] - 1}].{r['field']}",
                            "message": r["reason"],
                        }
                        for r in rejections[:1000]
                    ]
                },
            )
        now = datetime.now(UTC)
        run_id = str(uuid.uuid4())
        chunks = -(-len(accepted) // self.chunk_size)
        try:
            async with transaction(self.sessions) as session:
                session.add(
                    PaymentRun(
                        run_id=run_id,
                        client_id=client_id,
                        run_ref=run_ref,
                        state="queued" if accepted else "done",
                        requested_date=requested_date,
                        items=len(accepted),
                        chunks=chunks,
                        chunks_done=0,
                        attempts=0,
                        reconciliation={"rejected_at_intake": rejections[:1000]},
                        not_before=now,
                        created_at=now,
                        finished_at=None if accepted else now,
                    )
                )
                await session.flush()
                rows = []
                for position, (item, ref) in enumerate(accepted):
                    e2e = item["end_to_end_id"]
                    personal = {"dni": item["dni"], "name": item["name"], "cci": item["cci"]}
                    rows.append(
                        {
                            "end_to_end_id": e2e,
                            "run_id": run_id,
                            "chunk_no": position // self.chunk_size,
                            "position": position,
                            "amount": f"{Decimal(str(item['amount'])):.2f}",
                            "holder_ref": ref,
                            "sealed": self.keyring.encrypt(
                                json.dumps(personal).encode(), _item_aad({"end_to_end_id": e2e})
                            ),
                            "status": "queued",
                            "reason": None,
                        }
                    )
                # One statement for the roll (rows sent in batches), not one object each.
                if rows:
                    await session.execute(insert(PaymentItem), rows)
        except IntegrityError:  # the same roll, or one of its EndToEndIds, raced in
            async with transaction(self.sessions) as session:
                again = (
                    await session.execute(
                        select(PaymentRun.run_id).where(
                            PaymentRun.client_id == client_id, PaymentRun.run_ref == run_ref
                        )
                    )
                ).scalar_one_or_none()
            if again is None:
                raise
            return 200, await self.view(again)
        view = await self.view(run_id)
        view["rejected_at_intake"] = len(rejections)
        return 201, view

    # -- reading -----------------------------------------------------------------------

    async def view(self, run_id: str) -> dict[str, Any]:
        async with transaction(self.sessions) as session:
            run = await session.get(PaymentRun, run_id)
            if run is None:
                raise NotFound("no payment run with this id")
            counts = dict(
                (
                    await session.execute(
                        select(PaymentItem.status, func.count())
                        .where(PaymentItem.run_id == run_id)
                        .group_by(PaymentItem.status)
                    )
                ).all()
            )
            reasons = dict(
                (
                    await session.execute(
                        select(PaymentItem.reason, func.count())
                        .where(PaymentItem.run_id == run_id, PaymentItem.status == "rejected")
                        .group_by(PaymentItem.reason)
                    )
                ).all()
            )
        reconciliation = dict(run.reconciliation or {})
        return {
            "id": run.run_id,
            "run_ref": run.run_ref,
            "state": run.state,
            "requested_date": run.requested_date.isoformat(),
            "items": run.items,
            "chunks": run.chunks,
            "chunks_done": run.chunks_done,
            "paid": int(counts.get("paid", 0)),
            "rejected": int(counts.get("rejected", 0)),
            "rejected_by_reason": {str(k): int(v) for k, v in reasons.items()},
            "pending": int(sum(v for k, v in counts.items() if k not in ("paid", "rejected"))),
            "attempts": run.attempts,
            "last_error": run.last_error,
            "reconciliation": reconciliation,
        }

    # -- working -----------------------------------------------------------------------

    async def claim(self) -> str | None:
        return await claim(self.sessions, PaymentRun, PaymentRun.run_id, self.owner, self.lease)

    async def _hold(self, session: AsyncSession, run_id: str, **values: Any) -> bool:
        """Update the run only while this process holds its lease."""
        now = datetime.now(UTC)
        moved = await session.execute(
            update(PaymentRun)
            .where(PaymentRun.run_id == run_id, PaymentRun.lease_owner == self.owner)
            .values({"lease_expires_at": now + self.lease, **values})
        )
        return bool(getattr(moved, "rowcount", 0))

    async def work(self, run_id: str) -> str:
        bank = self.partners.get(Bank)
        async with transaction(self.sessions) as session:
            run = await session.get(PaymentRun, run_id)
        assert run is not None
        for chunk_no in range(run.chunks):
            chunk = await self._chunk(run, chunk_no, bank)
            if chunk is None:
                return "lease-lost"
            if chunk.state == "reported":
                continue
            aad = _chunk_aad({"run_id": run_id, "chunk_no": chunk_no})
            document = await self.keyring.open(self.sessions, chunk.document_sealed, aad)
            try:
                report = await bank.submit_payments(document)
            except PartnerError as exc:
                return await self._postpone(run_id, run.attempts + 1, exc.slug)
            statuses = {t.end_to_end_id: t for t in report.transactions}
            async with transaction(self.sessions) as session:
                if not await self._hold(session, run_id, chunks_done=chunk_no + 1, attempts=0):
                    return "lease-lost"
                ids = (
                    await session.execute(
                        select(PaymentItem.end_to_end_id).where(
                            PaymentItem.run_id == run_id, PaymentItem.chunk_no == chunk_no
                        )
                    )
                ).scalars()
                # Items that end alike are updated together: a statement per outcome.
                outcomes: dict[tuple[str, str | None], list[str]] = defaultdict(list)
                for e2e in ids:
                    status = statuses.get(e2e)
                    if status is None:  # not listed: the block's or group's status
                        outcomes[outcome(report.unlisted_status, report.unlisted_reason)].append(
                            e2e
                        )
                    else:
                        outcomes[outcome(status.status, status.reason)].append(e2e)
                for (state, reason), e2es in outcomes.items():
                    for start in range(0, len(e2es), 500):
                        await session.execute(
                            update(PaymentItem)
                            .where(PaymentItem.end_to_end_id.in_(e2es[start : start + 500]))
                            .values(status=state, reason=reason)
                        )
                await session.execute(
                    update(PaymentChunk)
                    .where(PaymentChunk.run_id == run_id, PaymentChunk.chunk_no == chunk_no)
                    .values(
                        state="reported",
                        group_status=report.group_status,
                        reported_at=datetime.now(UTC),
                    )
                )
        return await self._reconcile(run_id, bank)

    async def _chunk(self, run: PaymentRun, chunk_no: int, bank: Bank) -> PaymentChunk | None:
        """The chunk's stored document, built and stored first if it does not exist yet."""
        async with transaction(self.sessions) as session:
            existing = await session.get(PaymentChunk, (run.run_id, chunk_no))
        if existing is not None:
            return existing
        async with transaction(self.sessions) as session:
            items = (
                await session.execute(
                    select(PaymentItem.end_to_end_id, PaymentItem.amount, PaymentItem.sealed)
                    .where(PaymentItem.run_id == run.run_id, PaymentItem.chunk_no == chunk_no)
                    .order_by(PaymentItem.position)
                )
            ).all()
        transfers = []
        for item in items:
            aad = _item_aad({"end_to_end_id": item.end_to_end_id})
            personal = json.loads(await self.keyring.open(self.sessions, item.sealed, aad))
            transfers.append(
                Transfer(item.end_to_end_id, item.amount, personal["name"], personal["cci"])
            )
        now = datetime.now(UTC)
        msg_id = f"J{run.run_id.replace('-', '')[:12].upper()}{chunk_no:06d}"
        document = bank.payment_document(msg_id, now, run.requested_date, transfers)
        key = {"run_id": run.run_id, "chunk_no": chunk_no}
        chunk = PaymentChunk(
            **key,
            msg_id=msg_id,
            state="built",
            document_sealed=self.keyring.encrypt(document, _chunk_aad(key)),
            built_at=now,
        )
        async with transaction(self.sessions) as session:
            if not await self._hold(session, run.run_id):
                return None
            session.add(chunk)
            await session.execute(
                update(PaymentItem)
                .where(PaymentItem.run_id == run.run_id, PaymentItem.chunk_no == chunk_no)
                .values(status="submitted")
            )
        return chunk

    async def _reconcile(self, run_id: str, bank: Bank) -> str:
        """Compare the run's items with the debits the bank booked for the run's own
        messages. A second debit can only come from the bank executing one of these
        messages twice (EndToEndIds are unique across runs and a chunk is one message,
        always resent byte for byte), so the run's messages are where to look; asking
        for the whole account history would grow with every run of the operation."""
        async with transaction(self.sessions) as session:
            msg_ids = list(
                (
                    await session.execute(
                        select(PaymentChunk.msg_id)
                        .where(PaymentChunk.run_id == run_id)
                        .order_by(PaymentChunk.chunk_no)
                    )
                ).scalars()
            )
        try:
            booked = []
            for start in range(0, len(msg_ids), 200):
                booked += await bank.settled_payments(msg_ids[start : start + 200])
        except PartnerError as exc:
            async with transaction(self.sessions) as session:
                run = await session.get(PaymentRun, run_id)
            return await self._postpone(run_id, (run.attempts if run else 0) + 1, exc.slug)
        debits = Counter(b.end_to_end_id for b in booked)
        amounts: dict[str, set[Decimal]] = defaultdict(set)
        for b in booked:
            amounts[b.end_to_end_id].add(Decimal(b.amount))
        async with transaction(self.sessions) as session:
            run = await session.get(PaymentRun, run_id)
            assert run is not None
            items = (
                await session.execute(
                    select(PaymentItem.end_to_end_id, PaymentItem.status, PaymentItem.amount).where(
                        PaymentItem.run_id == run_id
                    )
                )
            ).all()
            twice = sorted(e2e for e2e, _, _ in items if debits[e2e] > 1)
            unbooked = sorted(
                e2e for e2e, status, _ in items if status == "paid" and not debits[e2e]
            )
            booked_rejected = sorted(
                e2e for e2e, status, _ in items if status == "rejected" and debits[e2e]
            )
            mismatched = sorted(
                e2e
                for e2e, _, amount in items
                if amounts[e2e] and amounts[e2e] != {Decimal(amount)}
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
            if not await self._hold(
                session,
                run_id,
                reconciliation=summary,
                state="done",
                finished_at=datetime.now(UTC),
                lease_owner=None,
            ):
                return "lease-lost"
        if twice:
            log.error("second debit detected", run_id=run_id, count=len(twice))
        if mismatched:
            log.error("booked amount differs from instructed", run_id=run_id, count=len(mismatched))
        return "done"

    async def _postpone(self, run_id: str, attempts: int, error: str) -> str:
        failed = attempts >= MAX_ATTEMPTS
        async with transaction(self.sessions) as session:
            await self._hold(
                session,
                run_id,
                state="failed" if failed else "queued",
                attempts=attempts,
                last_error=error,
                not_before=datetime.now(UTC) + timedelta(seconds=min(300.0, 0.5 * 2**attempts)),
                lease_owner=None,
                lease_expires_at=None,
            )
        return "failed" if failed else "queued"

    async def transfers_of(self, msg_id: str) -> list[str]:
        """The EndToEndIds of the pain.001 sent under ``msg_id`` (none if it is not one
        of the gateway's messages), in the order they were sent."""
        async with transaction(self.sessions) as session:
            chunk = (
                await session.execute(
                    select(PaymentChunk.run_id, PaymentChunk.chunk_no).where(
                        PaymentChunk.msg_id == msg_id
                    )
                )
            ).one_or_none()
            if chunk is None:
                return []
            return list(
                (
                    await session.execute(
                        select(PaymentItem.end_to_end_id)
                        .where(
                            PaymentItem.run_id == chunk.run_id,
                            PaymentItem.chunk_no == chunk.chunk_no,
                        )
                        .order_by(PaymentItem.position)
                    )
                ).scalars()
            )

    async def apply_statuses(self, rows: list[dict[str, Any]]) -> int:
        """Statuses pushed by the bank (pain.002), each row an item's effective status:
        settle (ACSC, ACSP) or reject (RJCT) items still waiting for one. An item already
        paid or rejected keeps its state."""
        changed = 0
        async with transaction(self.sessions) as session:
            for row in rows:
                new, _ = outcome(row["status"], None)
                if new == "pending":
                    continue
                moved = await session.execute(
                    update(PaymentItem)
                    .where(
                        PaymentItem.end_to_end_id == row["end_to_end_id"],
                        PaymentItem.status.in_(("submitted", "pending")),
                    )
                    .values(status=new, reason=row.get("reason") if new == "rejected" else None)
                )
                changed += int(getattr(moved, "rowcount", 0) or 0)
        return changed

    async def work_available(self) -> int:
        worked = 0
        while (run_id := await self.claim()) is not None:
            await self.work(run_id)
            worked += 1
        return worked
