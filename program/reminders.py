"""The monthly SMS reminders of the follow-up: every caregiver whose child misses a due
item (a vaccine dose or iron) at the end of a follow-up month is reminded that month,
through the gateway.

For each month of :func:`follow_up_months` the operation (``Operation.follow_up`` in
``program/operation.py``) asks the gateway for that month's verdicts and calls
:func:`send_monthly_reminders` with the children that miss an item. Caregivers whose
mobile number the programme does not hold yet are looked up (purpose ``contact``); the
reminders are asked for in batches (``POST /v1/reminders``, purpose
``health-follow-up``) and the batches read back for their outcome (:func:`read_back`).
A reminder's key is the month, its round and a digest of the child's CUI: the same child
is reminded at most once per round however often the step is run, and the key names
nobody.

The calendar (:data:`FOLLOW_UP`) is the published one: reminders in November and
December 2020, 218,876 and 441,124 (``program.published``). December's volume is twice
November's for about as many children missing a service (the count grows by under 1%
between the two months' ends), so the programme is taken to have sent December's in two
rounds, a reminder and a second one to the same caregivers; that is an inference from the
published volumes, not a published fact.

The gateway chooses the words (Spanish, naming no vaccine, supplement or diagnosis, with
the opt-out instruction), sends within the operator's hours and messages per second, and
skips phones that replied BAJA. Caregivers without a mobile line are counted apart.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from program.client import GatewayClient

#: Caregivers per look-up and per batch of reminders.
LOOKUP_BATCH = 1_000
REMINDER_BATCH = 5_000

#: The follow-up calendar: (months before the operation's date, rounds that month). For
#: the operation of 2021-03-01, November 2020 (one round) and December 2020 (two).
FOLLOW_UP: tuple[tuple[int, int], ...] = ((4, 1), (3, 2))


def follow_up_months(as_of: date) -> list[tuple[str, int]]:
    """The follow-up's months as ``(YYYY-MM, rounds)`` for an operation dated ``as_of``
    (:data:`FOLLOW_UP`): ``[("2020-11", 1), ("2020-12", 2)]`` for 2021-03-01."""
    months = []
    for before, rounds in FOLLOW_UP:
        index = as_of.year * 12 + as_of.month - 1 - before
        months.append((f"{index // 12:04d}-{index % 12 + 1:02d}", rounds))
    return months


@dataclass(frozen=True)
class Caregiver:
    """A child with a missing item and the caregiver to remind (DNI, 8 digits), with her
    mobile number (9 digits, national form) when the programme already holds it."""

    cui: str
    caregiver_dni: str
    phone: str | None = None


@dataclass
class ReminderFigures:
    """What one month's reminders came to: ``asked`` caregivers, ``no_line`` without a
    mobile line, ``already_requested`` reminders an earlier batch holds (a rerun: not
    sent again), and the gateway's counts over the month's batches (``queued``,
    ``submitted``, ``delivered``, ``failed``, ``expired``, ``opted_out``, ``refused``)."""

    month: str
    rounds: int = 1
    asked: int = 0
    no_line: int = 0
    # Reminders an earlier run (or batch) already asked for: not queued again.
    already_requested: int = 0
    batches: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        """Reminders the SMS centre accepted (delivered or not)."""
        return sum(self.counts[s] for s in ("submitted", "delivered", "failed", "expired"))


def reminder_key(month: str, cui: str, round_no: int = 1) -> str:
    """``YYYY-MM:`` (``YYYY-MM.N:`` for round N > 1) and a digest of the CUI: one
    reminder per child, month and round; at most 50 characters."""
    digest = hashlib.sha256(f"juntos-sms:{cui}".encode()).hexdigest()[:40]
    return f"{month}:{digest}" if round_no == 1 else f"{month}.{round_no}:{digest}"


def mobile_of(lines: Sequence[dict[str, object]]) -> str | None:
    """The first mobile number (9 digits starting with 9) among a caregiver's lines as
    ``POST /v1/phone-line-lookups`` answers them, or None."""
    numbers = (line.get("number") for line in lines)
    return next((n for n in numbers if isinstance(n, str) and n.startswith("9")), None)


async def _mobile_numbers(gw: GatewayClient, dnis: Sequence[str]) -> dict[str, str]:
    """The first mobile line of each caregiver who has one."""
    found: dict[str, str] = {}
    for start in range(0, len(dnis), LOOKUP_BATCH):
        group = list(dnis[start : start + LOOKUP_BATCH])
        answer = await gw.call(
            "consumer",
            "POST",
            "/v1/phone-line-lookups",
            purpose="contact",
            json_body={"dnis": group},
        )
        for dni, lines in zip(group, answer["data"], strict=True):
            mobile = mobile_of(lines.get("lines", []))
            if mobile:
                found[dni] = mobile
    return found


async def send_monthly_reminders(
    gw: GatewayClient, month: str, caregivers: Sequence[Caregiver], rounds: int = 1
) -> ReminderFigures:
    """Ask the gateway for this month's reminders (``month`` as ``YYYY-MM``), ``rounds``
    per caregiver with a mobile line; returns the figures as queued (``asked`` counts
    caregivers, not messages). :func:`read_back` later gives the receipts' outcome.
    Raises ``program.client.GatewayProblem`` when the gateway refuses a batch."""
    figures = ReminderFigures(month, rounds=rounds, asked=len(caregivers))
    unknown = sorted({c.caregiver_dni for c in caregivers if c.phone is None})
    numbers = await _mobile_numbers(gw, unknown) if unknown else {}
    rows = []
    for round_no in range(1, rounds + 1):
        for c in caregivers:
            phone = c.phone or numbers.get(c.caregiver_dni)
            if phone is None:
                if round_no == 1:
                    figures.no_line += 1
                continue
            key = reminder_key(month, c.cui, round_no)
            rows.append({"reminder_key": key, "dni": c.caregiver_dni, "phone": phone})
    for start in range(0, len(rows), REMINDER_BATCH):
        group = rows[start : start + REMINDER_BATCH]
        # Named by its keys: the same batch asked again is that batch; another list the
        # same month is a new batch, in which keys already asked are not queued again.
        digest = hashlib.sha256("\n".join(r["reminder_key"] for r in group).encode())
        answer = await gw.call(
            "consumer",
            "POST",
            "/v1/reminders",
            purpose="health-follow-up",
            json_body={
                "batch_ref": f"sms-{month}-{digest.hexdigest()[:24]}",
                "template": "pending-service",
                "reminders": group,
            },
        )
        figures.batches.append(answer["data"]["id"])
        figures.already_requested += int(answer["data"].get("already_requested") or 0)
    return await read_back(gw, figures)


async def read_back(
    gw: GatewayClient,
    figures: ReminderFigures,
    wait_seconds: float = 0.0,
    *,
    receipts: bool = False,
    stall_seconds: float = 60.0,
) -> ReminderFigures:
    """Refresh ``figures.counts`` from the month's batches; with ``wait_seconds``, keep
    reading (every second) until no reminder is queued (with ``receipts``, nor awaiting
    its delivery receipt), the time is up, or nothing moved for ``stall_seconds`` (the
    operator's sending hours are over, or the SMS centre is unreachable: what is left
    stays counted as queued or submitted)."""
    clock = asyncio.get_running_loop().time
    deadline = clock() + wait_seconds
    moved_at, last = clock(), None
    states = ("queued", "submitted", "delivered", "failed", "expired", "opted_out", "refused")
    settled: dict[str, Counter[str]] = {}  # batches where nothing can change any more
    while True:
        counts: Counter[str] = Counter()
        for batch_id in figures.batches:
            if batch_id in settled:
                counts.update(settled[batch_id])
                continue
            answer = await gw.call(
                "consumer", "GET", f"/v1/reminders/{batch_id}", purpose="health-follow-up"
            )
            data = answer["data"]
            batch = Counter({state: int(data.get(state, 0)) for state in states})
            if data.get("state") == "done":
                settled[batch_id] = batch
            counts.update(batch)
        figures.counts = counts
        if counts != last:
            moved_at, last = clock(), counts
        waiting = counts["queued"] + (counts["submitted"] if receipts else 0)
        if not waiting or clock() >= min(deadline, moved_at + stall_seconds):
            return figures
        await asyncio.sleep(1.0)
