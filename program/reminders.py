"""The monthly SMS reminders of the follow-up: every caregiver whose child misses a due
item (a vaccine dose or iron) gets one message that month, through the gateway.

For each month the operation calls :func:`send_monthly_reminders` with the households
whose verdicts named a missing item. It looks up the caregiver's mobile lines (purpose
``contact``), then asks the gateway for the reminders in batches (``POST /v1/reminders``,
purpose ``health-follow-up``), and reads the batches back for their outcome. A
reminder's key is the month and a digest of the child's CUI: the same child is reminded
at most once a month however often the step is run, and the key names nobody.

The operation calls it once per month of follow-up, after that month's verdicts
(``Operation.verdicts`` in ``program/operation.py``)::

    missing = [Caregiver(h.cui, h.mother_dni) for h in children if h.missing]
    figures = await send_monthly_reminders(self.gw, month, missing)  # month "2020-11"
    figures = await read_back(self.gw, figures, wait_seconds=60)
    # figures.sent feeds the summary's ``sms_sent``; figures.no_line the drop-outs

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

from program.client import GatewayClient

#: Caregivers per look-up and per batch of reminders.
LOOKUP_BATCH = 1_000
REMINDER_BATCH = 5_000


@dataclass(frozen=True)
class Caregiver:
    """A child with a missing item and the caregiver to remind (DNI, 8 digits)."""

    cui: str
    caregiver_dni: str


@dataclass
class ReminderFigures:
    """What one month's reminders came to: ``asked`` caregivers, ``no_line`` without a
    mobile line, and the gateway's counts over the month's batches (``queued``,
    ``submitted``, ``delivered``, ``failed``, ``expired``, ``opted_out``, ``refused``)."""

    month: str
    asked: int = 0
    no_line: int = 0
    batches: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        """Reminders the SMS centre accepted (delivered or not)."""
        return sum(self.counts[s] for s in ("submitted", "delivered", "failed", "expired"))


def reminder_key(month: str, cui: str) -> str:
    """``YYYY-MM:`` and a digest of the CUI: one reminder per child and month."""
    return f"{month}:{hashlib.sha256(f'juntos-sms:{cui}'.encode()).hexdigest()[:40]}"


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
            numbers = [line.get("number") for line in lines.get("lines", [])]
            mobile = next((n for n in numbers if isinstance(n, str) and n.startswith("9")), None)
            if mobile:
                found[dni] = mobile
    return found


async def send_monthly_reminders(
    gw: GatewayClient, month: str, caregivers: Sequence[Caregiver]
) -> ReminderFigures:
    """Ask the gateway for this month's reminders (``month`` as ``YYYY-MM``); returns the
    figures as queued. :func:`read_back` later gives the receipts' outcome. Raises
    ``program.client.GatewayProblem`` when the gateway refuses a batch."""
    figures = ReminderFigures(month, asked=len(caregivers))
    numbers = await _mobile_numbers(gw, sorted({c.caregiver_dni for c in caregivers}))
    rows = []
    for c in caregivers:
        phone = numbers.get(c.caregiver_dni)
        if phone is None:
            figures.no_line += 1
            continue
        rows.append(
            {"reminder_key": reminder_key(month, c.cui), "dni": c.caregiver_dni, "phone": phone}
        )
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
    return await read_back(gw, figures)


async def read_back(
    gw: GatewayClient, figures: ReminderFigures, wait_seconds: float = 0.0
) -> ReminderFigures:
    """Refresh ``figures.counts`` from the month's batches; with ``wait_seconds``, keep
    reading (every second) until no reminder is queued or the time is up."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        counts: Counter[str] = Counter()
        for batch_id in figures.batches:
            answer = await gw.call(
                "consumer", "GET", f"/v1/reminders/{batch_id}", purpose="health-follow-up"
            )
            data = answer["data"]
            for state in (
                "queued", "submitted", "delivered", "failed", "expired", "opted_out", "refused"
            ):  # fmt: skip
                counts[state] += int(data.get(state, 0))
        figures.counts = counts
        if not counts["queued"] or asyncio.get_running_loop().time() >= deadline:
            return figures
        await asyncio.sleep(1.0)
