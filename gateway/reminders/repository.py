"""Every statement on the reminder tables. The caller's session carries the
transaction; nothing here commits. Lists of keys go in batches of 500 (a bound-parameter
limit).

A condition on ``state`` that the reminder's key or phone already narrows is written as
``state NOT IN (the other states)``: SQLite's planner, without statistics, takes an
equality on any index for about ten rows and would otherwise read the 440,000 queued
reminders through the ``(state, next_at)`` index to find the few it names (0.3 s a
statement for a claim of 200 keys, measured by ``bench.sms --backlog``); a ``NOT IN`` it
cannot look up, so it uses the key. PostgreSQL plans by its statistics either way. A
claim reads that index on purpose: the next due, in its order (:meth:`claim_next`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.reminders.models import STATES, OptOut, Reminder, ReminderBatch

BATCH = 500
# A reminder the dispatcher may take: waiting, or taken by a process whose claim ran out.
CLAIMABLE = ("queued", "sending")
_NOT_QUEUED = tuple(s for s in STATES if s != "queued")


class Claimed(NamedTuple):
    """What the dispatcher needs of a claimed reminder (its other columns stay unread)."""

    reminder_key: str
    batch_id: str
    phone_sealed: bytes
    attempts: int
    subject_ref: str
    phone_ref: str


# The columns of ``Claimed``, in its order: the claim returns nothing else.
_CLAIMED_COLUMNS = tuple(getattr(Reminder, name) for name in Claimed._fields)


class ReminderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- batches -----------------------------------------------------------------------

    async def batch(self, batch_id: str) -> ReminderBatch | None:
        return await self.session.get(ReminderBatch, batch_id)

    async def batch_by_ref(self, client_id: str, batch_ref: str) -> ReminderBatch | None:
        return (
            await self.session.execute(
                select(ReminderBatch).where(
                    ReminderBatch.client_id == client_id, ReminderBatch.batch_ref == batch_ref
                )
            )
        ).scalar_one_or_none()

    def add_batch(self, batch: ReminderBatch) -> None:
        self.session.add(batch)

    async def counts(self, batch_id: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(Reminder.state, func.count())
            .where(Reminder.batch_id == batch_id)
            .group_by(Reminder.state)
        )
        return {state: int(n) for state, n in rows.all()}

    # -- reminders ---------------------------------------------------------------------

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), BATCH):
            rows = await self.session.execute(
                select(Reminder.reminder_key).where(
                    Reminder.reminder_key.in_(keys[start : start + BATCH])
                )
            )
            found.update(rows.scalars())
        return found

    async def add_reminders(self, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), BATCH):
            await self.session.execute(insert(Reminder), rows[start : start + BATCH])

    async def any_due(self, now: datetime) -> bool:
        """Whether any reminder is due at ``now``: one probe of the ``(state, next_at)``
        index per claimable state."""
        for state in CLAIMABLE:
            found = await self.session.execute(
                select(Reminder.reminder_key)
                .where(Reminder.state == state, Reminder.next_at <= now)
                .limit(1)
            )
            if found.first() is not None:
                return True
        return False

    async def claim_next(
        self, now: datetime, until: datetime, limit: int
    ) -> list[tuple[Claimed, bool]]:
        """Take up to ``limit`` reminders due at ``now`` until ``until`` (state
        ``sending``), the longest due first: each row's columns, and whether an earlier
        claim of it ran out (its submission may have reached the SMSC). Those whose claim
        ran out come first, then the queued ones.

        One ``UPDATE ... WHERE reminder_key IN (the next due, in the index's order)
        RETURNING`` per state: a process reads nothing it may then lose to another. On
        PostgreSQL the inner select locks what it takes and skips the rows another
        claim holds (``FOR UPDATE SKIP LOCKED``); SQLite's write lock serialises the
        claims."""
        taken: list[tuple[Claimed, bool]] = []
        for state in ("sending", "queued"):  # a claim that ran out, then the queue
            left = limit - len(taken)
            if left <= 0:
                break
            due = (
                select(Reminder.reminder_key)
                .where(Reminder.state == state, Reminder.next_at <= now)
                .order_by(Reminder.next_at)
                .limit(left)
                .with_for_update(skip_locked=True)
            )
            rows = await self.session.execute(
                update(Reminder)
                .where(Reminder.reminder_key.in_(due.scalar_subquery()))
                .values(state="sending", next_at=until)
                .returning(*_CLAIMED_COLUMNS)
                .execution_options(synchronize_session=False)
            )
            ran_out = state == "sending"
            taken.extend((Claimed(*row), ran_out) for row in rows.all())
        return taken

    async def get(self, key: str) -> Reminder | None:
        return await self.session.get(Reminder, key)

    async def set_state(self, key: str, **values: Any) -> None:
        await self.session.execute(
            update(Reminder)
            .where(Reminder.reminder_key == key)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def set_states(self, rows: list[dict[str, Any]]) -> None:
        """Several reminders' new values at once (each dict: ``key`` and the columns, the
        same columns in every dict): one statement executed for every row."""
        if not rows:
            return
        columns = [c for c in rows[0] if c != "key"]
        table: Table = Reminder.__table__  # type: ignore[assignment]
        statement = (
            update(table)
            .where(table.c.reminder_key == bindparam("b_key"))
            .values({c: bindparam(f"b_{c}") for c in columns})
        )
        params = [{f"b_{k}": v for k, v in row.items()} for row in rows]
        await (await self.session.connection()).execute(statement, params)

    async def settle_many(self, reports: list[dict[str, Any]]) -> set[str]:
        """Record delivery receipts (each dict: ``message_id``, ``state``, ``done_at``,
        ``receipt_status``, ``receipt_error``); the message ids found."""
        ids = [r["message_id"] for r in reports]
        found = set(
            (
                await self.session.execute(
                    select(Reminder.message_id).where(Reminder.message_id.in_(ids))
                )
            ).scalars()
        )
        known = [r for r in reports if r["message_id"] in found]
        if known:
            table: Table = Reminder.__table__  # type: ignore[assignment]
            statement = (
                update(table)
                .where(table.c.message_id == bindparam("b_message_id"))
                .values({c: bindparam(f"b_{c}") for c in known[0] if c != "message_id"})
            )
            params = [{f"b_{k}": v for k, v in r.items()} for r in known]
            await (await self.session.connection()).execute(statement, params)
        return {str(m) for m in found}

    async def settle(self, message_id: str, **values: Any) -> int:
        """Record a delivery receipt on the reminder with this message id (one not yet
        final); how many rows it changed."""
        result = await self.session.execute(
            update(Reminder)
            .where(Reminder.message_id == message_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def knows_message(self, message_id: str) -> bool:
        found = await self.session.execute(
            select(Reminder.reminder_key).where(Reminder.message_id == message_id).limit(1)
        )
        return found.scalar_one_or_none() is not None

    async def unsettled(self) -> bool:
        """Whether any reminder is not final: one probe of the ``(state, next_at)``
        index per state."""
        for state in ("queued", "sending", "submitted"):
            found = await self.session.execute(
                select(Reminder.reminder_key).where(Reminder.state == state).limit(1)
            )
            if found.first() is not None:
                return True
        return False

    # -- opt-outs ----------------------------------------------------------------------

    async def opted_out(self, phone_refs: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(phone_refs), BATCH):
            rows = await self.session.execute(
                select(OptOut.phone_ref).where(
                    OptOut.phone_ref.in_(phone_refs[start : start + BATCH])
                )
            )
            found.update(rows.scalars())
        return found

    async def opt_out(self, phone_ref: str, keyword: str, now: datetime) -> int:
        """Record the opt-out (once) and stop every reminder of the phone not yet sent;
        how many reminders it stopped."""
        if await self.session.get(OptOut, phone_ref) is None:
            self.session.add(OptOut(phone_ref=phone_ref, keyword=keyword[:16], opted_out_at=now))
        result = await self.session.execute(
            update(Reminder)
            .where(Reminder.phone_ref == phone_ref, Reminder.state.not_in(_NOT_QUEUED))
            .values(state="opted_out", done_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- retention ---------------------------------------------------------------------

    async def purge(self, before: datetime, *, dry_run: bool = False) -> int:
        """Delete the batches asked before ``before`` with their reminders; returns the
        reminders they held (counted only, with ``dry_run``). Opt-outs are kept."""
        old = select(ReminderBatch.batch_id).where(ReminderBatch.created_at < before)
        count = (
            await self.session.execute(
                select(func.count()).select_from(Reminder).where(Reminder.batch_id.in_(old))
            )
        ).scalar_one()
        if not dry_run:
            await self.session.execute(delete(Reminder).where(Reminder.batch_id.in_(old)))
            await self.session.execute(
                delete(ReminderBatch).where(ReminderBatch.created_at < before)
            )
        return int(count)
