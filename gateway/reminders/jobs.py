"""Sending reminders as a dispatched job: one ``submit_sm`` per reminder, no transaction
open while the SMSC answers (``gateway.jobs.runner.Dispatch``).

A reminder is claimed (``sending`` until the claim's lease ends) in one transaction,
submitted with none open, and its outcome recorded in another: the SMSC's message id
(``submitted``) with an audit event naming who asked, for what purpose and on what legal
basis, and whose data (the caregiver's pseudonym), never the number or the text. A
claim that ran out (the process died between the submission and the record) is taken
again and submitted as a replacing resend, so the SMSC replaces a copy it still holds
instead of delivering a second. A transient SMSC error queues the reminder again after
the runner's backoff; a destination or message the SMSC refuses for good ends
``refused``. Nothing is sent outside the operator's sending hours, nor to a phone that
opted out since the reminder was queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import AuditEvent
from audit.store import append
from gateway.partners.errors import PartnerError
from gateway.partners.ports import ShortMessageCentre
from gateway.partners.registry import PartnerRegistry
from gateway.reminders.content import reminder_text
from gateway.reminders.repository import ReminderRepository
from gateway.reminders.service import ReminderService, phone_aad

log = structlog.get_logger("gateway.reminders")

#: Reminders listed per round: a round at 50 messages/s lasts 10 s.
ROUND = 500


@dataclass(frozen=True)
class Work:
    key: str
    phone: str
    text: str
    resend: bool


class ReminderDispatch:
    name = "sms-reminders"
    max_attempts = 8
    max_backoff_seconds = 600.0

    def __init__(self, reminders: ReminderService, partners: PartnerRegistry) -> None:
        self.reminders = reminders
        self.partners = partners
        # What each call ended in, read back by its record (same process, in turn).
        self._outcomes: dict[str, tuple[str, str]] = {}

    async def due(self, session: AsyncSession, now: datetime) -> list[Any]:
        if not self.reminders.window.open_at(now):
            return []
        return await ReminderRepository(session).due(now, ROUND)

    async def claim(
        self, session: AsyncSession, item: Any, now: datetime, until: datetime
    ) -> tuple[int, Any] | None:
        repo = ReminderRepository(session)
        claimed = await repo.claim(item, now, until)
        if claimed is None:
            return None
        row, ran_out = claimed
        if await repo.opted_out([row.phone_ref]):
            await repo.set_state(item, state="opted_out", done_at=now)
            return None
        batch = await repo.batch(row.batch_id)
        assert batch is not None
        phone = await self.reminders.keyring.open(session, row.phone_sealed, phone_aad(item))
        work = Work(
            item, phone.decode(), reminder_text(batch.template), ran_out or row.attempts > 0
        )
        return row.attempts, work

    async def call(self, work: Any) -> str | None:
        sms = self.partners.get(ShortMessageCentre)
        try:
            message_id = await sms.submit(work.phone, work.text, resend=work.resend)
        except PartnerError as exc:
            if exc.transient:
                return exc.slug
            self._outcomes[work.key] = ("refused", exc.slug)
            return None
        self._outcomes[work.key] = ("submitted", message_id)
        return None

    async def record(
        self,
        session: AsyncSession,
        item: Any,
        attempts: int,
        error: str | None,
        next_at: datetime | None,
    ) -> None:
        repo = ReminderRepository(session)
        now = datetime.now(UTC)
        outcome, value = self._outcomes.pop(item, ("", ""))
        if error is not None:
            state = "queued" if next_at is not None else "failed"
            await repo.set_state(
                item,
                state=state,
                attempts=attempts,
                last_error=error[:64],
                next_at=next_at or now,
                done_at=None if next_at is not None else now,
            )
            return
        if outcome == "refused":
            await repo.set_state(
                item, state="refused", attempts=attempts, last_error=value[:64], done_at=now
            )
            return
        await repo.set_state(
            item,
            state="submitted",
            attempts=attempts,
            message_id=value,
            submitted_at=now,
            last_error=None,
        )
        row = await repo.get(item)
        batch = await repo.batch(row.batch_id) if row is not None else None
        if row is None or batch is None:
            return
        # A disclosure of the phone to the operator, audited like every other.
        await append(
            session,
            AuditEvent(
                request_id=batch.batch_id,
                client_id=batch.client_id,
                service="smsc.reminders",
                purpose=batch.purpose,
                legal_basis=batch.legal_basis,
                partner="smsc",
                operation="submit_sm",
                subjects=[row.subject_ref, row.phone_ref],
                fields=["phone", "message"],
            ),
        )
