"""SMS reminders: a batch accepted once, each reminder sent at most once per key, its
delivery receipt reconciled, and opt-out replies honoured.

- Intake (:meth:`ReminderService.accept`): a batch is known by ``(client, batch_ref)``; a
  reminder by its ``reminder_key``, the primary key of its row, so a key asked again (in
  this batch or any later one) is not queued twice. A phone that opted out is recorded
  ``opted_out`` at once. Phones are sealed; caregivers and phones appear only as
  pseudonyms.
- Sending (:class:`gateway.reminders.jobs.ReminderDispatch`): within the operator's
  sending hours only, paced by the SMSC adapter to the bind's messages per second.
- Receipts and replies (:meth:`ReminderService.on_event`): a delivery receipt settles
  the reminder of its message id (``delivered``, ``failed``, ``expired``); a stop word
  from a phone records its opt-out and stops every reminder still queued for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.calls.validation import EveryField
from gateway.core.data_keys import DataKeyring, SealedColumn
from gateway.core.db import transaction
from gateway.core.i18n import N_, Text
from gateway.core.limits import named_key
from gateway.core.pseudonyms import Pseudonymizer
from gateway.identifiers import IdentifierError, parse_document, parse_phone
from gateway.partners.models import DeliveryReport, SmsEvent
from gateway.partners.ports import UnknownMessage
from gateway.reminders.content import TEMPLATES, is_stop_word
from gateway.reminders.models import Reminder, ReminderBatch
from gateway.reminders.repository import ReminderRepository

log = structlog.get_logger("gateway.reminders")

KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: The fields of a reminder in a batch, all required (the contract's ``REMINDER_ROW`` lists
#: them); any other is refused.
ROW_FIELDS = ("reminder_key", "dni", "phone")
#: Receipts arriving together are stored in one transaction: those that came within
#: RECEIPT_WINDOW seconds of the first, or fewer once the SMSC's window of them is waiting
#: (it sends no more until they are acknowledged), at most RECEIPT_BATCH per transaction.
RECEIPT_WINDOW = 0.02
RECEIPT_BATCH = 500


@dataclass(frozen=True)
class SendingWindow:
    """The operator's sending hours: from ``from_hour`` to ``to_hour`` (excluded), local
    time of ``time_zone``."""

    from_hour: int = 8
    to_hour: int = 20
    time_zone: str = "America/Lima"

    def open_at(self, now: datetime) -> bool:
        hour = now.astimezone(ZoneInfo(self.time_zone)).hour
        return self.from_hour <= hour < self.to_hour


def phone_aad(key: str) -> bytes:
    return f"sms-reminder:{key}".encode()


SEALED_COLUMNS = [
    SealedColumn(
        "sms_reminders",
        Reminder.__table__,  # type: ignore[arg-type]
        "phone_sealed",
        lambda row: phone_aad(row["reminder_key"]),
    ),
]


@dataclass(frozen=True)
class Accepted:
    batch: dict[str, Any]
    created: bool


class ReminderService:
    def __init__(
        self,
        keyring: DataKeyring,
        pseudonyms: Pseudonymizer,
        window: SendingWindow,
    ) -> None:
        self.keyring = keyring
        self.pseudonyms = pseudonyms
        self.window = window
        self._flushing: set[asyncio.Task[None]] = set()

    def phone_ref(self, phone: str) -> str:
        return self.pseudonyms.of("phone", phone)

    async def accept(
        self,
        session: AsyncSession,
        client_id: str,
        purpose: str,
        legal_basis: str,
        batch_ref: str,
        template: str,
        reminders: list[dict[str, Any]],
    ) -> Accepted:
        """Queue a batch; the existing batch when ``batch_ref`` was used before.
        ValidationFailed (422) naming every bad field (never its value)."""
        repo = ReminderRepository(session)
        existing = await repo.batch_by_ref(client_id, batch_ref)
        if existing is not None:
            return Accepted(await self.view(session, existing.batch_id), created=False)
        errors = EveryField()
        if template not in TEMPLATES:
            errors.add(
                "body.template", Text("expected one of {choices}", choices=", ".join(TEMPLATES))
            )
        seen: set[str] = set()
        checked = []
        for i, row in enumerate(reminders):
            key, dni, phone = row.get("reminder_key"), row.get("dni"), row.get("phone")
            for position, name in enumerate(row, start=1):
                if name not in ROW_FIELDS:  # named by its place when it may be a value
                    field = named_key(name, position)
                    errors.add(f"body.reminders[{i}].{field}", N_("not a field of this operation"))
            if not isinstance(key, str) or not KEY.match(key):
                errors.add(
                    f"body.reminders[{i}].reminder_key",
                    N_("expected 1 to 64 of A-Z a-z 0-9 . _ : -"),
                )
            elif key in seen:
                errors.add(f"body.reminders[{i}].reminder_key", N_("repeated in this batch"))
            else:
                seen.add(key)
            try:  # a DNI with its check character (RENIEC's printed form) is the DNI
                dni = parse_document(dni).number
            except IdentifierError as exc:
                errors.add(f"body.reminders[{i}].dni", exc.args[0])
            try:
                parse_phone(phone)
            except IdentifierError as exc:
                errors.add(f"body.reminders[{i}].phone", exc.args[0])
            checked.append({**row, "dni": dni})
        errors.done()
        reminders = checked
        now = datetime.now(UTC)
        batch_id = str(uuid.uuid4())
        repo.add_batch(
            ReminderBatch(
                batch_id=batch_id,
                client_id=client_id,
                batch_ref=batch_ref,
                purpose=purpose,
                legal_basis=legal_basis,
                template=template,
                created_at=now,
            )
        )
        await session.flush()
        keys = [row["reminder_key"] for row in reminders]
        already = await repo.existing_keys(keys)
        refs = {row["phone"]: self.phone_ref(row["phone"]) for row in reminders}
        stopped = await repo.opted_out(sorted(set(refs.values())))
        rows = []
        for row in reminders:
            key = row["reminder_key"]
            if key in already:
                continue  # asked before: that reminder stands, sent at most once
            ref = refs[row["phone"]]
            out = ref in stopped
            rows.append(
                {
                    "reminder_key": key,
                    "batch_id": batch_id,
                    "subject_ref": self.pseudonyms.of("dni", row["dni"]),
                    "phone_ref": ref,
                    "phone_sealed": self.keyring.encrypt(row["phone"].encode(), phone_aad(key)),
                    "state": "opted_out" if out else "queued",
                    "attempts": 0,
                    "next_at": now,
                    "done_at": now if out else None,
                }
            )
        await repo.add_reminders(rows)
        view = await self.view(session, batch_id)
        view["already_requested"] = len(already)
        return Accepted(view, created=True)

    async def view(self, session: AsyncSession, batch_id: str) -> dict[str, Any]:
        """The batch and its reminders counted by state; LookupError if unknown."""
        repo = ReminderRepository(session)
        batch = await repo.batch(batch_id)
        if batch is None:
            raise LookupError(batch_id)
        counts = await repo.counts(batch_id)
        pending = counts.get("queued", 0) + counts.get("sending", 0)
        done = sum(counts.get(s, 0) for s in ("delivered", "failed", "expired", "opted_out"))
        total = sum(counts.values())
        return {
            "id": batch.batch_id,
            "batch_ref": batch.batch_ref,
            "template": batch.template,
            "state": "queued"
            if pending
            else "done"
            if done + counts.get("refused", 0) == total
            else "sent",
            "reminders": total,
            "queued": pending,
            **{
                s: counts.get(s, 0)
                for s in ("submitted", "delivered", "failed", "expired", "opted_out", "refused")
            },
            "created_at": batch.created_at.isoformat().replace("+00:00", "Z"),
        }

    # -- what the SMSC sends back --------------------------------------------------------

    async def on_event(self, session: AsyncSession, event: SmsEvent) -> None:
        """Store a receipt or a reply in ``session``; UnknownMessage for a receipt of a
        message id not stored yet (its submission's outcome may not be committed)."""
        repo = ReminderRepository(session)
        now = datetime.now(UTC)
        if isinstance(event, DeliveryReport):
            changed = await repo.settle(
                event.message_id,
                state=event.outcome,
                done_at=now,
                receipt_status=event.status[:8],
                receipt_error=event.error[:8],
            )
            if not changed:
                raise UnknownMessage
            log.info("sms receipt", message_id=event.message_id, outcome=event.outcome)
            return
        if is_stop_word(event.text):
            stopped = await repo.opt_out(
                self.phone_ref(event.phone), event.text.strip().upper(), now
            )
            log.info("sms opt-out recorded", reminders_stopped=stopped)
        else:
            log.info("sms reply ignored", length=len(event.text))

    async def aclose(self) -> None:
        """Let receipts being stored finish (before the database engine closes)."""
        if self._flushing:
            await asyncio.wait(set(self._flushing), timeout=5)

    async def unsettled(self, session: AsyncSession) -> bool:
        """Whether any reminder is queued, being sent or awaiting its receipt."""
        return await ReminderRepository(session).unsettled()

    def handler(
        self,
        sessions: async_sessionmaker[AsyncSession],
        window: int = RECEIPT_BATCH,
        wait: float = RECEIPT_WINDOW,
    ) -> Callable[[SmsEvent], Awaitable[None]]:
        """The SMSC adapter's handler: each event stored and committed before the SMSC is
        told it arrived. Receipts arriving together share one transaction: those that
        came within ``wait`` seconds of the first (:data:`RECEIPT_WINDOW`), or as soon as
        ``window`` of them are waiting (the SMSC's window: the ``deliver_sm`` it sends
        before waiting for their acknowledgements, SMPP 3.4 section 2.7, so waiting
        longer only leaves it idle), up to :data:`RECEIPT_BATCH`. Each caller still
        learns its own outcome (UnknownMessage for an id not stored)."""
        pending: list[tuple[DeliveryReport, asyncio.Future[None]]] = []
        flushing = self._flushing
        window = max(1, min(window, RECEIPT_BATCH))
        full = asyncio.Event()

        async def flush() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(full.wait(), wait)
            full.clear()
            batch = pending[:]
            pending.clear()
            now = datetime.now(UTC)
            rows = [
                {
                    "message_id": report.message_id,
                    "state": report.outcome,
                    "done_at": now,
                    "receipt_status": report.status[:8],
                    "receipt_error": report.error[:8],
                }
                for report, _ in batch
            ]
            try:
                async with transaction(sessions) as session:
                    found = await ReminderRepository(session).settle_many(rows)
            except Exception as exc:  # every waiter is told: the SMSC sends them again
                for _, future in batch:
                    future.set_exception(RuntimeError(type(exc).__name__))
                return
            for report, future in batch:
                if report.message_id in found:
                    future.set_result(None)
                else:
                    future.set_exception(UnknownMessage())
            log.info("sms receipts", count=len(found))

        async def handle(event: SmsEvent) -> None:
            if not isinstance(event, DeliveryReport):
                async with transaction(sessions) as session:
                    await self.on_event(session, event)
                return
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            pending.append((event, future))
            if len(pending) >= window:
                full.set()
            if len(pending) == 1 or len(pending) % RECEIPT_BATCH == 0:
                task = asyncio.create_task(flush())
                flushing.add(task)
                task.add_done_callback(flushing.discard)
            await future

        return handle
