"""Sending reminders as a dispatched job: ``submit_sm`` per reminder, in chunks, with no
transaction open while the SMSC answers (``gateway.jobs.runner.Dispatch``).

An item of this dispatch is a turn: the claim of the next :data:`CHUNK` due reminders,
whichever they are when it runs, so that two processes never race for the same list. The
chunk is claimed (each reminder ``sending`` until the claim's lease ends) in one
transaction, its reminders submitted concurrently with none open (the SMSC adapter paces
them to the operator's window), and their outcomes recorded in another: the SMSC's
message id (``submitted``) with an audit event per reminder naming who asked, for what
purpose and on what legal basis, and whose data (the caregiver's and the phone's
pseudonyms), never the number or the text. One commit per chunk rather than two per
reminder is what keeps the gateway near the SMSC's own pace.

A claim that ran out (the process died between the submission and the record) is taken
again and submitted as a replacing resend, so the SMSC replaces a copy it still holds
instead of delivering a second. A reminder whose submission failed transiently is queued
again after the runner's backoff for its attempts, and after :attr:`max_attempts` ends
``failed``, as is one the gateway held back itself or whose bind was refused; a
destination or message the SMSC refuses for good ends ``refused``
(:func:`refuses_the_message`). Nothing is sent outside the operator's sending hours, nor
to a phone that opted out since the reminder was queued.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import AuditEvent
from audit.store import append_many
from gateway.jobs.runner import backoff
from gateway.partners.errors import BulkheadFull, CircuitOpen, PartnerError
from gateway.partners.ports import ShortMessageCentre
from gateway.partners.registry import PartnerRegistry
from gateway.reminders.content import reminder_text
from gateway.reminders.models import ReminderBatch
from gateway.reminders.repository import ReminderRepository
from gateway.reminders.service import ReminderService, phone_aad

log = structlog.get_logger("gateway.reminders")

#: Reminders listed per round, and per chunk (one claim, one record, one commit each).
ROUND = 2_000
CHUNK = 200
#: Submissions in flight at once on the bind (the adapter paces them to the window).
IN_FLIGHT = 32


@dataclass(frozen=True)
class Work:
    key: str
    phone: str
    text: str
    resend: bool
    attempts: int
    subject_ref: str
    phone_ref: str
    batch: ReminderBatch


def _disclosure(w: Work, refused: str | None = None) -> AuditEvent:
    """A submission: a disclosure of the phone to the operator, audited like any other
    (``refused``: the SMSC's refusal, as the partner error's slug)."""
    return AuditEvent(
        request_id=w.batch.batch_id,
        client_id=w.batch.client_id,
        service="smsc.reminders",
        purpose=w.batch.purpose,
        legal_basis=w.batch.legal_basis,
        partner="smsc",
        operation="submit_sm",
        outcome=refused or "ok",
        reason=refused,
        subjects=[w.subject_ref, w.phone_ref],
        fields=["phone", "message"],
        status=502 if refused else 200,
    )


def refuses_the_message(exc: PartnerError) -> bool:
    """Whether the SMSC refused this message for good (a ``submit_sm`` answered with a
    permanent error: a bad destination, a refused message). A refused bind, a transient
    answer, and a call the gateway held back itself (its breaker open after the SMSC
    failed a run of calls, its bulkhead full) are about the link: the reminder is due
    again later."""
    held_back = isinstance(exc, CircuitOpen | BulkheadFull)
    return exc.operation == "submit_sm" and not exc.transient and not held_back


class ReminderDispatch:
    name = "sms-reminders"
    # Attempts of a chunk's call as a whole (an unforeseen failure); each reminder
    # counts its own attempts against the same bound.
    max_attempts = 8
    max_backoff_seconds = 600.0
    # Two chunks in hand: one being submitted while the other is claimed or recorded.
    in_flight = 2

    def __init__(self, reminders: ReminderService, partners: PartnerRegistry) -> None:
        self.reminders = reminders
        self.partners = partners
        # What each chunk's call ended in, read back by its record (same process, in turn):
        # per reminder, ("submitted", message id), ("refused", slug) or ("retry", slug).
        self._outcomes: dict[tuple[str, ...], list[tuple[Work, str, str]]] = {}
        # The keys each turn claimed, read back by its record.
        self._claimed: dict[int, list[str]] = {}

    async def due(self, session: AsyncSession, now: datetime) -> list[Any]:
        """Turns, not reminders: each the claim of the next :data:`CHUNK` due at ``now``
        (the round's start), :data:`ROUND` reminders' worth while any is due; a turn
        that finds none left claims nothing."""
        if not self.reminders.window.open_at(now):
            return []
        if not await ReminderRepository(session).any_due(now):
            return []
        return list(range(ROUND // CHUNK))

    async def claim(
        self, session: AsyncSession, item: Any, now: datetime, until: datetime
    ) -> tuple[int, Any] | None:
        repo = ReminderRepository(session)
        claimed = await repo.claim_next(now, until, CHUNK)
        if not claimed:
            return None
        stopped = await repo.opted_out(sorted({row.phone_ref for row, _ in claimed}))
        batches: dict[str, ReminderBatch] = {}
        texts: dict[str, str] = {}
        work = []
        for row, ran_out in claimed:
            if row.phone_ref in stopped:
                await repo.set_state(row.reminder_key, state="opted_out", done_at=now)
                continue
            batch = batches.get(row.batch_id) or await repo.batch(row.batch_id)
            assert batch is not None
            batches[row.batch_id] = batch
            if batch.template not in texts:
                texts[batch.template] = reminder_text(batch.template)
            phone = await self.reminders.keyring.open(
                session, row.phone_sealed, phone_aad(row.reminder_key)
            )
            work.append(
                Work(
                    row.reminder_key,
                    phone.decode(),
                    texts[batch.template],
                    ran_out or row.attempts > 0,
                    row.attempts,
                    row.subject_ref,
                    row.phone_ref,
                    batch,
                )
            )
        if not work:
            return None
        self._claimed[item] = [w.key for w in work]
        return 0, work

    async def call(self, work: Any) -> str | None:
        sms = self.partners.get(ShortMessageCentre)
        outcomes: list[tuple[Work, str, str]] = [(w, "retry", "") for w in work]
        # IN_FLIGHT lanes take the chunk's reminders in turn (a semaphore with a waiter
        # per reminder costs a scan of its waiters on every acquire).
        todo = iter(enumerate(work))

        async def lane() -> None:
            for n, w in todo:
                try:
                    message_id = await sms.submit(w.phone, w.text, resend=w.resend)
                except PartnerError as exc:
                    outcomes[n] = w, "refused" if refuses_the_message(exc) else "retry", exc.slug
                else:
                    outcomes[n] = w, "submitted", message_id

        await asyncio.gather(*(lane() for _ in range(min(IN_FLIGHT, len(work)))))
        self._outcomes[tuple(w.key for w in work)] = outcomes
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
        keys = self._claimed.pop(item, [])
        outcomes = self._outcomes.pop(tuple(keys), [])
        if error is not None:  # the call itself failed: the chunk is due again
            for key in keys:
                await repo.set_state(
                    key, state="queued", last_error=error[:64], next_at=next_at or now
                )
            return
        events = []
        submitted, ended, retried = [], [], []
        for w, outcome, value in outcomes:
            tries = w.attempts + 1
            if outcome == "submitted":
                submitted.append(
                    {
                        "key": w.key,
                        "state": "submitted",
                        "attempts": tries,
                        "message_id": value,
                        "submitted_at": now,
                        "last_error": None,
                    }
                )
                events.append(_disclosure(w))
            elif outcome == "refused" or tries >= self.max_attempts:
                if outcome == "refused":  # the number reached the SMSC all the same
                    events.append(_disclosure(w, refused=value))
                ended.append(
                    {
                        "key": w.key,
                        "state": "refused" if outcome == "refused" else "failed",
                        "attempts": tries,
                        "last_error": value[:64],
                        "done_at": now,
                    }
                )
            else:
                retried.append(
                    {
                        "key": w.key,
                        "state": "queued",
                        "attempts": tries,
                        "last_error": value[:64],
                        "next_at": now + backoff(tries, self.max_backoff_seconds),
                    }
                )
        for rows in (submitted, ended, retried):
            await repo.set_states(rows)
        if events:
            await append_many(session, events)
        if retried:
            log.info("sms reminders postponed", count=len(retried))
