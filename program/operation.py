"""The DU 095-2020 operation, played by the programme's systems through the gateway.

Each step uses only the gateway's public API with the programme's own credentials:

1. newborns: the RENIEC periodic extract (Padrón Nominal) of the last 24 months (with a
   cap, the most recent newborns: the window is read backwards a month at a time);
2. eligibility: district poverty (district table), age, vital status, JUNTOS membership
   (from the Padrón row) and formal payroll (the programme's copy of the household
   register, simulated here from the sandbox population);
3. contact: OSIPTEL lines, a simulated affiliation call (or a field specialist's visit
   when the caregiver has no line or does not answer), and the consent it records;
4. accounts: Banco de la Nación's mass opening; a caregiver who already holds a Cuenta DNI
   gets it back and is paid to it (no second account); a deceased holder is refused;
5. cards: the bank's card-delivery extract, staged by the gateway;
6. first transfer: a payment run, paid and reconciled;
7. SMS follow-up: each month of ``program.reminders.follow_up_months``, the verdicts at
   the month's end and reminders to the caregivers of children missing an item, sent by
   the gateway while the operation goes on and read back at its end;
8. health: HIS records (a push by MINSA and the periodic extract), co-responsibility
   verdicts, the semáforo; the second transfer for compliant households only;
9. audit: the gateway's audit chain verified.

Households that drop out are counted with their reason, never silently lost:
:func:`funnel_stages` lays the run out stage by stage, each stage's count equal to the
previous one's minus its drop-outs, and :meth:`Results.summary` gives the figures of
``program.published.SUMMARY_KEYS`` beside the published ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from program.client import GatewayClient, GatewayProblem
from program.i18n import N_
from program.published import PUBLISHED
from program.reminders import (
    Caregiver,
    ReminderFigures,
    follow_up_months,
    mobile_of,
    read_back,
    send_monthly_reminders,
)
from program.territory import Territory

TRANSFER = Decimal("200.00")
ROLL_SIZE = 25_000
BATCH_SIZE = 500  # households per batch call (the gateway takes up to 1,000)
PRIORITIES = ("very-high", "high", "medium", "low")
# The simulated affiliation call: share of caregivers who refuse the commitment agreement,
# and of those with a line who do not answer (they get a field specialist's visit). The
# published operation affiliated 100% of its target; one refusal in 5,000 keeps the
# reason in the funnel.
REFUSAL_SHARE = 0.0002
UNANSWERED_SHARE = 0.03
# The bank's code for a holder registered as deceased (contracts/bn/openapi.yaml).
DECEASED_HOLDER = "TITULAR_FALLECIDO"


class Progress(Protocol):
    """How the operation reports its steps. A step is named by its key (``newborns``,
    ``verdicts 2020-11``: ``program.report.STEP_LABELS`` words it); ``finish`` gets the
    step's summary as an English message id of the ``report`` catalog (``N_``) and the
    numbers it names, so that the display translates it."""

    def start(self, step: str, total: int | None) -> None: ...
    def advance(self, step: str, n: int = 1, total: int | None = None) -> None: ...
    def finish(self, step: str, summary: str, /, **figures: Any) -> None: ...


class Registers(Protocol):
    """What the programme knows without asking the gateway."""

    def poverty_pct(self, ubigeo: str) -> float | None: ...
    def region(self, ubigeo: str) -> str: ...
    def formal_payroll(self, dni: str) -> bool: ...


@dataclass(slots=True, repr=False)
class Household:
    cui: str
    mother_dni: str
    mother_names: str
    ubigeo: str
    birth_date: date
    alive: bool
    in_juntos: bool
    outcome: str = "candidate"
    lines: int = 0
    mobile: str | None = None  # the caregiver's first mobile number (OSIPTEL), if any
    consent_id: str | None = None
    channel: str | None = None  # "phone-call" or "in-person"
    cci: str | None = None
    new_account: bool = False
    card_delivered: bool = False
    t1: str | None = None
    missing: tuple[str, ...] = ()
    priority: str | None = None
    compliant: bool = False
    t2: str | None = None
    # SMS reminders the programme asked the gateway for, for this child, over the
    # follow-up months (0: nothing missing, or the caregiver has no mobile line).
    reminders: int = 0
    # Follow-up months in which the child missed an item (its caregiver to remind).
    months_to_remind: int = 0

    def __repr__(self) -> str:
        # No identifier, name or number: a repr reaches logs and tracebacks.
        return f"Household(ubigeo={self.ubigeo!r}, outcome={self.outcome!r})"


#: Seconds a step must take for its records per second to mean anything: the step
#: table shows seconds to one decimal, and a rate over less than that is noise.
MEASURABLE_SECONDS = 0.1


@dataclass
class StepFigures:
    name: str
    seconds: float = 0.0
    records: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def measured_rate(self) -> float | None:
        """Records per second, or None for a step shorter than :data:`MEASURABLE_SECONDS`."""
        return self.rate if round(self.seconds, 1) >= MEASURABLE_SECONDS else None


@dataclass(repr=False)
class Results:
    as_of: date
    period: str
    households: list[Household] = field(default_factory=list)
    funnel: Counter[str] = field(default_factory=Counter)
    steps: list[StepFigures] = field(default_factory=list)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    semaforo: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    health_records: int = 0
    pushed_records: int = 0
    audit: dict[str, Any] = field(default_factory=dict)
    calls: int = 0
    retries: int = 0
    retry_causes: dict[str, int] = field(default_factory=dict)
    cards_delivered: int = 0
    # The SMS follow-up, per month (``YYYY-MM``): see program.reminders.
    reminders: dict[str, ReminderFigures] = field(default_factory=dict)

    def __repr__(self) -> str:
        # A few figures, not every household: asyncio formats the repr of a finished
        # task's result (Python 3.11's ``asyncio.run``), and the dataclass repr of a
        # national run's 583,274 households is a string of hundreds of MiB, full of
        # identifiers.
        return (
            f"Results(period={self.period!r}, households={len(self.households)}, "
            f"steps={len(self.steps)})"
        )

    @property
    def sms_sent(self) -> int:
        """Reminders the SMS centre accepted, over every month of the follow-up."""
        return sum(f.sent for f in self.reminders.values())

    def summary(self) -> dict[str, Any]:
        """The run's figures as JSON-ready data: every key of
        ``program.published.SUMMARY_KEYS`` (counts of households unless the name says
        children; ``transferred_soles`` in soles), shares in percent (``*_pct``), the
        funnel by stage, and the published figures under ``published``."""
        return summarise(self)

    born_from: date | None = None
    """The birth dates the newborns read cover: ``born_from`` to ``born_to`` inclusive,
    at most ``newborns_cap`` children (``None``: no cap, the whole 24 months)."""
    born_to: date | None = None
    newborns_cap: int | None = None
    territory: Territory | None = None
    """The districts' territorial units, when the registers give their coordinates."""

    def step(self, name: str) -> StepFigures:
        for s in self.steps:
            if s.name == name:
                return s
        figures = StepFigures(name)
        self.steps.append(figures)
        return figures


STEP_ORDER = (
    "newborns", "eligibility", "contact", "accounts", "cards", "payment T1", "follow-up",
    "health push", "health extract", "verdicts", "payment T2", "reminders sent",
    "audit verify",
)  # fmt: skip
"""The operation's steps in its order; ``follow-up`` stands for a follow-up month's
steps (``verdicts 2020-11``, ``reminders 2020-11``), which keep the months' order."""


def step_rank(name: str) -> int:
    """A step's place in :data:`STEP_ORDER` (an unknown step goes last)."""
    if re.fullmatch(r"\S+ \d{4}-\d{2}", name):
        name = "follow-up"
    return STEP_ORDER.index(name) if name in STEP_ORDER else len(STEP_ORDER)


def _draw(seed: int, *parts: str) -> float:
    """A reproducible uniform draw in [0, 1) for this seed and these parts."""
    digest = hashlib.sha256("|".join((str(seed), *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _digest(seed: int, *parts: str) -> str:
    """A short stable name for these parts (idempotency keys of batches)."""
    return hashlib.sha256("|".join((str(seed), *parts)).encode()).hexdigest()[:32]


def end_to_end_id(seed: int, tranche: str, cui: str) -> str:
    """The EndToEndId of a household's transfer of ``tranche`` (ISO 20022: at most 35
    characters; here 33): the same in every run of the operation with this seed."""
    return f"DU095-{tranche}-{_digest(seed, 'e2e', tranche, cui)[:24]}"


_ROW = re.compile(r"^body\.transfers\[(\d+)\]\.")
EARLIER = "already in an earlier roll"  # the gateway's reason (contracts: payment runs)


def _intake_refusals(refusals: Iterable[tuple[int, str]]) -> dict[int, str]:
    """The roll's transfers the gateway refused at intake, from ``(position, reason)``
    pairs: ``paid-earlier`` for a transfer an earlier roll already holds, ``rejected``
    otherwise (the gateway names at most the first 1,000; the others stay as the run
    says)."""
    return {n: "paid-earlier" if reason == EARLIER else "rejected" for n, reason in refusals}


def _problem_refusals(errors: Iterable[dict[str, Any]]) -> Iterable[tuple[int, str]]:
    """``(position, reason)`` of a refused roll's problem ``errors``
    (``body.transfers[i].field``): each error's ``reason`` code (its ``message`` is in
    the reader's language)."""
    for error in errors:
        found = _ROW.match(str(error.get("field", "")))
        if found:
            yield int(found.group(1)), str(error.get("reason") or error.get("message", ""))


def _windows(start: date, end: date, days: int = 366) -> list[tuple[date, date]]:
    out = []
    while start <= end:
        stop = min(end, start + timedelta(days=days - 1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out


def _months(born: date, on: date) -> int:
    return (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)


# What a household's outcome is once the programme asks for its verdicts: any outcome of
# the accounts step (a household without an account still has a child to follow).
VERDICT_WAITING = ("account-opened", "account-existing", "account-refused-deceased-holder")
# Eligibility outcomes that exclude a household, in the order they are checked.
EXCLUSIONS = (
    "district-poverty-unknown",
    "district-poverty-below-15",
    "over-24-months",
    "deceased",
    "already-in-juntos",
    "formal-payroll",
)
# The funnel's stages: each holds the households of the previous one minus its drop-outs.
STAGES = ("newborns", "eligible", "affiliated", "with-account", "first-transfer-paid", "compliant")


@dataclass(frozen=True)
class Stage:
    """One stage of the funnel: the households that reached it, and those of them that
    went no further, by reason (``dropped`` is empty for the last stage)."""

    name: str
    households: int
    dropped: dict[str, int]

    def as_record(self) -> dict[str, Any]:
        return {"stage": self.name, "households": self.households, "dropped": self.dropped}


def _fate(h: Household) -> tuple[int, str | None]:
    """The index in ``STAGES`` of the last stage a household reached, and why it went
    no further (None: it reached the last one)."""
    if h.outcome in EXCLUSIONS:
        return 0, h.outcome
    if not h.consent_id:
        return 1, h.outcome  # refused, or an error of the contact step
    if not h.cci:
        return 2, h.outcome  # the bank refused the holder, or the opening failed
    if h.t1 != "paid":
        return 3, f"first-transfer-{h.t1 or 'not-sent'}"
    if not h.compliant:
        return 4, f"priority-{h.priority}" if h.priority else h.outcome
    return 5, None


def funnel_stages(households: Iterable[Household]) -> list[Stage]:
    """The run stage by stage: ``households`` of a stage is that of the previous one
    minus the previous one's ``dropped``, so every household is accounted for once,
    with the reason it stopped."""
    reached = [0] * len(STAGES)
    dropped: list[Counter[str]] = [Counter() for _ in STAGES]
    for h in households:
        last, reason = _fate(h)
        for i in range(last + 1):
            reached[i] += 1
        if reason is not None:
            dropped[last][reason] += 1
    return [
        Stage(name, reached[i], dict(sorted(dropped[i].items()))) for i, name in enumerate(STAGES)
    ]


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def summarise(results: Results) -> dict[str, Any]:
    """See :meth:`Results.summary`."""
    households = results.households
    stages = funnel_stages(households)
    count = {s.name: s.households for s in stages}
    affiliated = count["affiliated"]
    transfers = sum(int(p.get("paid", 0)) for p in results.payments.values())
    children = sum(sum(c.values()) for c in results.semaforo.values())
    very_high = sum(c["very-high"] for c in results.semaforo.values())
    return {
        "as_of": results.as_of.isoformat(),
        "period": results.period,
        "newborns": count["newborns"],
        "eligible": count["eligible"],
        "households_affiliated": affiliated,
        "affiliated_by_phone": sum(
            1 for h in households if h.consent_id and h.channel == "phone-call"
        ),
        "affiliated_in_person": sum(
            1 for h in households if h.consent_id and h.channel == "in-person"
        ),
        "first_transfer_paid": count["first-transfer-paid"],
        "first_transfer_paid_pct": _pct(count["first-transfer-paid"], affiliated),
        "accounts_opened": sum(1 for h in households if h.cci and h.new_account),
        "accounts_existing": sum(1 for h in households if h.cci and not h.new_account),
        "accounts_refused_deceased_holder": sum(
            1 for h in households if h.outcome == "account-refused-deceased-holder"
        ),
        "cards_delivered": results.cards_delivered,
        "transfers": transfers,
        "transferred_soles": int(TRANSFER * transfers),
        "second_transfer_paid": int(results.payments.get("T2", {}).get("paid", 0)),
        "compliant_households": count["compliant"],
        "compliant_households_pct": _pct(count["compliant"], affiliated),
        "semaforo_children": children,
        "very_high_priority_children": very_high,
        "very_high_priority_children_pct": _pct(very_high, children),
        "sms_sent": results.sms_sent,
        "sms_sent_by_month": {m: f.sent for m, f in sorted(results.reminders.items())},
        # Reminders still queued when the run ended (the SMS centre's sending hours were
        # over, or it was unreachable), and those an earlier run had already asked for.
        "sms_queued": sum(f.counts["queued"] for f in results.reminders.values()),
        "sms_already_requested": sum(f.already_requested for f in results.reminders.values()),
        "districts_covered": len({h.ubigeo for h in households if h.consent_id}),
        "funnel": [s.as_record() for s in stages],
        "published": dict(PUBLISHED),
    }


def _household(row: dict[str, Any]) -> Household:
    """A newborn of the Padrón Nominal extract (a staged ``reniec-newborns`` row)."""
    return Household(
        cui=row["cui"],
        mother_dni=row["mother_dni"],
        mother_names=row["mother_names"],
        ubigeo=row["ubigeo"],
        birth_date=date.fromisoformat(row["birth_date"]),
        alive=bool(row["alive"]),
        in_juntos="JUNTOS" in row["social_programs"],
    )


def priority_of(missing: Iterable[str]) -> str:
    """The semáforo: very high when a vaccine dose and iron are both missing, high when a
    vaccine dose is, medium when iron is, low when nothing due is missing."""
    missing = list(missing)
    vaccine = any(m.startswith(("rotavirus", "pneumococcal")) for m in missing)
    iron = any(m.startswith("iron") for m in missing)
    if vaccine and iron:
        return "very-high"
    if vaccine:
        return "high"
    if iron:
        return "medium"
    return "low"


class Operation:
    def __init__(
        self,
        gateway: GatewayClient,
        registers: Registers,
        progress: Progress,
        *,
        as_of: date,
        seed: int,
        limit: int | None = None,
        concurrency: int = 16,
        poll_seconds: float = 0.5,
        batch_size: int = BATCH_SIZE,
        batches_in_flight: int = 4,
    ) -> None:
        self.gw = gateway
        self.registers = registers
        self.progress = progress
        self.seed = seed
        self.limit = limit
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.batches_in_flight = batches_in_flight
        self.poll = poll_seconds
        last = as_of - timedelta(days=1)
        self.period = f"{last.year:04d}-{last.month:02d}"
        self.results = Results(as_of=as_of, period=self.period)

    # -- helpers -----------------------------------------------------------------------

    async def _batches(
        self,
        step: str,
        items: Sequence[Household],
        work: Callable[[Sequence[Household]], Awaitable[None]],
        waiting: str | tuple[str, ...],
        failed: str,
    ) -> int:
        """Run ``work`` on batches of ``batch_size`` items, a few batches at a time (so
        that every gateway process has one to work on), with progress. A batch the
        gateway refuses for good (after the client's retries) leaves its households that
        were still ``waiting`` with the outcome ``{failed}-{problem}``: counted, not lost."""
        waits = (waiting,) if isinstance(waiting, str) else waiting
        groups = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        queue: asyncio.Queue[Sequence[Household]] = asyncio.Queue()
        for group in groups:
            queue.put_nowait(group)

        async def worker() -> None:
            while not queue.empty():
                group = queue.get_nowait()
                try:
                    await work(group)
                except GatewayProblem as exc:
                    for h in group:
                        if h.outcome in waits:
                            h.outcome = f"{failed}-{exc.slug}"
                self.progress.advance(step, len(group))

        lanes = min(self.batches_in_flight, len(groups)) or 1
        await asyncio.gather(*(worker() for _ in range(lanes)))
        return len(items)

    async def _timed(self, name: str, total: int | None, work: Callable[[], Awaitable[int]]) -> int:
        figures = self.results.step(name)
        self.progress.start(name, total)
        started = time.perf_counter()
        records = await work()
        figures.seconds += time.perf_counter() - started
        figures.records += records
        return records

    async def _wait_run(self, path: str, role: str, purpose: str | None = None) -> dict[str, Any]:
        while True:
            run = await self.gw.call(role, "GET", path, purpose=purpose)
            body = run.get("data", run)
            if body["state"] in ("succeeded", "failed", "done"):
                return dict(body)
            await asyncio.sleep(self.poll)

    # -- the operation -----------------------------------------------------------------

    async def run(self) -> Results:
        """The operation, step by step. Steps that share no data run side by side:
        the first transfer (cards, then payment runs) beside the SMS follow-up of
        November and December (verdicts and reminders need no payment), and the month's
        HIS extract beside February's verdicts and the second transfer. Each step's
        seconds are its own wall time, so side-by-side steps overlap in the step table.
        HIS's pushed rows (dated in February) come after the follow-up, so November's
        and December's verdicts never see them."""
        await self.newborns()
        self.eligibility()
        await self.contact()
        opened_on = date.today() - timedelta(days=1)  # the bank's day may start before ours
        await self.accounts()

        async def first_transfer() -> None:
            await self.cards(opened_on)
            await self.pay("T1", [h for h in self.results.households if h.cci])

        await asyncio.gather(first_transfer(), self.follow_up())
        await self.push_health()

        async def second_transfer() -> None:
            await self.verdicts()
            await self.pay("T2", [h for h in self.results.households if h.compliant])

        await asyncio.gather(self.health_extract(), second_transfer())
        await self.reminders_settled()
        await self.verify_audit()
        # The step table in the operation's order, whichever side-by-side step began first.
        self.results.steps.sort(key=lambda s: step_rank(s.name))
        self.results.calls, self.results.retries = self.gw.calls, self.gw.retries
        self.results.retry_causes = dict(self.gw.retry_causes)
        return self.results

    async def newborns(self) -> None:
        """The Padrón Nominal extract of children born in the last 24 months, read while
        the gateway stages it. With a cap (``limit``), the most recent newborns: the
        window is read backwards a month at a time and the newest children of the last
        month read are kept."""
        as_of = self.results.as_of
        first = date(as_of.year - 2, as_of.month, 1)
        last = as_of - timedelta(days=1)
        households = self.results.households
        self.results.born_to, self.results.newborns_cap = last, self.limit

        async def run_window(start: date, end: date, take: Callable[[list[Any]], bool]) -> None:
            run = await self.gw.call(
                "admin",
                "POST",
                "/v1/exchanges/reniec-newborns/runs",
                json_body={"born_from": start.isoformat(), "born_to": end.isoformat()},
            )
            await self._read_staged("reniec-newborns", run["id"], "affiliation", take)

        async def everything() -> int:
            # The windows are staged side by side (a run each, so each gateway process
            # can fetch one) and taken in order of birth.
            windows = _windows(first, last)
            taken: list[list[Household]] = [[] for _ in windows]

            def keeper(n: int) -> Callable[[list[dict[str, Any]]], bool]:
                def keep(page: list[dict[str, Any]]) -> bool:
                    taken[n].extend(map(_household, page))
                    self.progress.advance("newborns", len(page))
                    return True

                return keep

            await asyncio.gather(
                *(run_window(start, end, keeper(n)) for n, (start, end) in enumerate(windows))
            )
            for window in taken:
                households.extend(window)
            self.results.born_from = first
            return len(households)

        async def newest(cap: int) -> int:
            for start, end in reversed(_windows(first, last, days=31)):
                rows: list[dict[str, Any]] = []

                def keep(page: list[dict[str, Any]], rows: list[dict[str, Any]] = rows) -> bool:
                    rows.extend(page)
                    return True

                await run_window(start, end, keep)
                rows.sort(key=lambda r: (str(r["birth_date"]), str(r["cui"])), reverse=True)
                self._take(rows[: cap - len(households)])
                self.results.born_from = start
                if len(households) >= cap:
                    self.results.born_from = min(h.birth_date for h in households)
                    break
            return len(households)

        await self._timed(
            "newborns", None, everything if self.limit is None else lambda: newest(self.limit or 0)
        )
        self.progress.finish("newborns", N_("{count} newborns from RENIEC"), count=len(households))

    def _take(self, rows: list[dict[str, Any]]) -> bool:
        self.results.households.extend(map(_household, rows))
        self.progress.advance("newborns", len(rows))
        return True

    async def _read_staged(
        self,
        exchange: str,
        run_id: str,
        purpose: str,
        take: Callable[[list[dict[str, Any]]], bool],
    ) -> None:
        chunk: int | None = 0
        path = f"/v1/exchanges/{exchange}/runs/{run_id}/records"
        while chunk is not None:
            page = await self.gw.call(
                "consumer", "GET", path, purpose=purpose, params={"chunk": chunk, "chunks": 50}
            )
            if page["run"]["state"] == "failed":
                raise RuntimeError(f"the {exchange} run failed at the partner")
            if not take(page["data"]):
                return
            if page["next_chunk"] == chunk:  # still being fetched
                await asyncio.sleep(self.poll)
            chunk = page["next_chunk"]

    def eligibility(self) -> None:
        started = time.perf_counter()
        as_of = self.results.as_of
        funnel = self.results.funnel
        funnel["newborns"] = len(self.results.households)
        for h in self.results.households:
            poverty = self.registers.poverty_pct(h.ubigeo)
            if poverty is None:
                # Not in the table, or no figure in the poverty map (NA): not eligible.
                h.outcome = "district-poverty-unknown"
            elif poverty < 15.0:
                h.outcome = "district-poverty-below-15"
            elif _months(h.birth_date, as_of) >= 24:
                h.outcome = "over-24-months"
            elif not h.alive:
                h.outcome = "deceased"
            elif h.in_juntos:
                h.outcome = "already-in-juntos"
            elif self.registers.formal_payroll(h.mother_dni):
                h.outcome = "formal-payroll"
            else:
                h.outcome = "eligible"
            funnel[h.outcome] += 1
        figures = self.results.step("eligibility")
        figures.seconds = time.perf_counter() - started
        figures.records = len(self.results.households)
        self.progress.start("eligibility", len(self.results.households))
        self.progress.advance("eligibility", len(self.results.households))
        self.progress.finish("eligibility", N_("{count} eligible"), count=funnel["eligible"])

    async def contact(self) -> None:
        """OSIPTEL lines, the affiliation call, and the consent the caregiver gives: a
        batch of households at a time (one look-up call and one consent call each). A
        caregiver with no line, or who does not answer, is visited by a field specialist
        and gives her consent in person."""
        eligible = [h for h in self.results.households if h.outcome == "eligible"]

        async def batch(group: Sequence[Household]) -> None:
            answer = await self.gw.call(
                "consumer",
                "POST",
                "/v1/phone-line-lookups",
                purpose="contact",
                json_body={"dnis": [h.mother_dni for h in group]},
            )
            reached = []
            for h, found in zip(group, answer["data"], strict=True):
                if "lines" not in found:
                    h.outcome = f"error-{found['error']}"
                    continue
                h.lines = len(found["lines"])
                h.mobile = mobile_of(found["lines"])
                draw = _draw(self.seed, "call", h.cui)
                if draw < REFUSAL_SHARE:
                    h.outcome = "refused"
                    continue
                answered = h.lines and draw >= REFUSAL_SHARE + UNANSWERED_SHARE
                h.channel = "phone-call" if answered else "in-person"
                reached.append(h)
            if not reached:
                return
            # The key names exactly these consents: a retry after a lost answer returns the
            # first answer instead of recording them twice.
            key = "du095-consents-" + _digest(self.seed, *(h.cui for h in reached))
            recorded = await self.gw.call(
                "consumer",
                "POST",
                "/v1/consent-batches",
                purpose="affiliation",
                json_body={"consents": [self._consent(h) for h in reached]},
                idempotency_key=key,
            )
            for h, record in zip(reached, recorded["data"], strict=True):
                h.consent_id = record["id"]
                h.outcome = "affiliated"

        await self._timed(
            "contact",
            len(eligible),
            lambda: self._batches("contact", eligible, batch, "eligible", "error"),
        )
        funnel = self.results.funnel
        for h in eligible:
            funnel[h.outcome] += 1
            if h.channel and h.consent_id:
                funnel[f"affiliated-{h.channel}"] += 1
        self.progress.finish(
            "contact",
            N_("{affiliated} affiliated ({phone} by phone, {in_person} in person)"),
            affiliated=funnel["affiliated"],
            phone=funnel["affiliated-phone-call"],
            in_person=funnel["affiliated-in-person"],
        )

    def _consent(self, h: Household) -> dict[str, Any]:
        recording = f"rec-{hashlib.sha256((str(self.seed) + h.cui).encode()).hexdigest()[:20]}"
        return {
            "cui": h.cui,
            "caregiver_dni": h.mother_dni,
            "purposes": ["payment", "coresponsibility-verification"],
            "data_categories": ["financial", "health"],
            "channel": h.channel or "phone-call",
            "evidence": {
                "recording_ref": recording,
                "sha256": hashlib.sha256(recording.encode()).hexdigest(),
            },
            "agent_id": f"agent-{int(_draw(self.seed, 'agent', h.cui) * 400):03d}",
        }

    async def accounts(self) -> None:
        """Cuentas DNI in mass openings at Banco de la Nación, a batch of holders a call.
        The bank answers 201 for an account it opened, 200 for the Cuenta DNI the
        caregiver already held (paid to it), and refuses a deceased holder
        (``TITULAR_FALLECIDO``): each counted under its own outcome."""
        affiliated = [h for h in self.results.households if h.outcome == "affiliated"]

        async def batch(group: Sequence[Household]) -> None:
            key = "du095-accounts-" + _digest(self.seed, *(h.cui for h in group))
            answer = await self.gw.call(
                "consumer",
                "POST",
                "/v1/account-openings",
                purpose="payment",
                json_body={"holders": [{"dni": h.mother_dni} for h in group]},
                idempotency_key=key,
            )
            for h, opened in zip(group, answer["data"], strict=True):
                if "account" in opened:
                    h.cci = opened["account"]["cci"]
                    h.new_account = opened["status"] == 201
                    h.outcome = "account-opened" if h.new_account else "account-existing"
                elif opened.get("bank_code") == DECEASED_HOLDER:
                    h.outcome = "account-refused-deceased-holder"
                else:
                    code = opened.get("bank_code") or opened["error"]
                    h.outcome = f"account-refused-{str(code).lower().replace('_', '-')}"

        await self._timed(
            "accounts",
            len(affiliated),
            lambda: self._batches("accounts", affiliated, batch, "affiliated", "account"),
        )
        funnel = self.results.funnel
        for h in affiliated:
            funnel[h.outcome] += 1
        self.progress.finish(
            "accounts",
            N_("{opened} opened, {held} already held, {refused} refused (holder deceased)"),
            opened=funnel["account-opened"],
            held=funnel["account-existing"],
            refused=funnel["account-refused-deceased-holder"],
        )

    async def cards(self, opened_on: date) -> None:
        """The bank's extract of the debit cards delivered since ``opened_on``, staged by
        the gateway's ``bn-card-deliveries`` exchange; marks the households whose
        caregiver has her card."""
        by_dni = {h.mother_dni: h for h in self.results.households if h.new_account}

        async def work() -> int:
            run = await self.gw.call(
                "admin",
                "POST",
                "/v1/exchanges/bn-card-deliveries/runs",
                json_body={"born_from": opened_on.isoformat(), "born_to": date.today().isoformat()},
            )

            def take(rows: list[dict[str, Any]]) -> bool:
                for row in rows:
                    h = by_dni.get(str(row.get("dni")))
                    if h is not None and not h.card_delivered:
                        h.card_delivered = True
                        self.results.cards_delivered += 1
                self.progress.advance("cards", len(rows))
                return True

            await self._read_staged("bn-card-deliveries", run["id"], "payment", take)
            return self.results.cards_delivered

        await self._timed("cards", None, work)
        self.progress.finish(
            "cards", N_("{count} debit cards delivered"), count=self.results.cards_delivered
        )

    async def pay(self, tranche: str, payees: list[Household]) -> None:
        """One transfer of S/ 200 to each payee: payment runs of at most ROLL_SIZE
        transfers, each paid by the gateway's worker and reconciled against the bank's
        debit notifications."""
        step = f"payment {tranche}"
        figures: dict[str, Any] = {
            "payees": len(payees),
            "paid": 0,
            "rejected": 0,
            "booked": 0,
            "second_debits": 0,
            "paid_earlier": 0,
            "amount": "0.00",
        }
        # The bank executes on a real business day: the next one after today.
        requested = date.today() + timedelta(days=1)

        async def work() -> int:
            runs = []
            for start in range(0, len(payees), ROLL_SIZE):
                roll = payees[start : start + ROLL_SIZE]
                # A household's EndToEndId is the same in every run of the operation, so
                # the gateway refuses to pay it twice ("already in an earlier roll"); the
                # run_ref names exactly this roll, so the same roll asked again is that
                # run, and another roll (a rerun with more households) is a new one.
                ids = [end_to_end_id(self.seed, tranche, h.cui) for h in roll]
                transfers = [
                    {
                        "end_to_end_id": e2e,
                        "dni": h.mother_dni,
                        "cci": h.cci,
                        "amount": str(TRANSFER),
                        "name": h.mother_names[:70],
                    }
                    for e2e, h in zip(ids, roll, strict=True)
                ]
                try:
                    created = await self.gw.call(
                        "consumer",
                        "POST",
                        "/v1/payment-runs",
                        purpose="payment",
                        json_body={
                            "run_ref": f"DU095-{tranche}-{_digest(self.seed, *ids)}",
                            "requested_date": requested.isoformat(),
                            "transfers": transfers,
                        },
                    )
                except GatewayProblem as exc:
                    if exc.status != 422:
                        raise
                    # No transfer of this roll could be paid: the gateway kept nothing.
                    refused = _intake_refusals(_problem_refusals(exc.problem.get("errors", [])))
                    for n, h in enumerate(roll):
                        status = refused.get(n, "rejected")
                        setattr(h, tranche.lower(), status)
                        figures["paid_earlier" if status == "paid-earlier" else "rejected"] += 1
                    self.progress.advance(step, len(roll))
                    continue
                rejected = created["data"]["reconciliation"].get("rejected_at_intake", [])
                refused = _intake_refusals((r["row"] - 1, r["reason"]) for r in rejected)
                runs.append((created["data"]["id"], roll, refused))
            for run_id, roll, refused in runs:
                done = await self._wait_run(f"/v1/payment-runs/{run_id}", "consumer", "payment")
                figures["paid"] += done["paid"]
                earlier = sum(1 for v in refused.values() if v == "paid-earlier")
                figures["paid_earlier"] += earlier
                figures["rejected"] += (
                    done["rejected"]
                    + len(done["reconciliation"].get("rejected_at_intake", []))
                    - earlier
                )
                figures["booked"] += done["reconciliation"].get("booked", 0)
                figures["second_debits"] += len(done["reconciliation"].get("second_debits", []))
                status = "paid" if done["state"] == "done" else done["state"]
                for n, h in enumerate(roll):
                    setattr(h, tranche.lower(), refused.get(n, status))
                self.progress.advance(step, len(roll))
            figures["amount"] = str(TRANSFER * figures["paid"])
            return len(payees)

        if payees:
            await self._timed(step, len(payees), work)
        self.results.payments[tranche] = figures
        self.progress.finish(
            step,
            N_("{paid} paid, {booked} reconciled, {twice} paid twice"),
            paid=figures["paid"],
            booked=figures["booked"],
            twice=figures["second_debits"],
        )

    async def push_health(self) -> None:
        """MINSA pushes the month's HIS rows of a sample of children (as the partner
        agency would), to show the inbound path beside the periodic extract."""
        affiliated = [h for h in self.results.households if h.consent_id][:200]
        if not affiliated:
            return
        year, month = (int(x) for x in self.period.split("-"))
        day = date(year, month, 15)
        rows = [
            json.dumps(
                {
                    "cui": h.cui,
                    "appointment_id": f"PUSH-{self.seed}-{n:06d}",
                    "service_date": day.isoformat(),
                    "item_code": "99381",
                    "facility": "00001234",
                    "lab_value": "",
                }
            )
            for n, h in enumerate(affiliated)
        ]

        digest = _digest(self.seed, *(h.cui for h in affiliated))

        async def work() -> int:
            answer = await self.gw.call(
                "partner",
                "POST",
                "/v1/inbound/minsa-his/health-records",
                purpose="coresponsibility-verification",
                content=("\n".join(rows) + "\n").encode(),
                content_type="application/x-ndjson",
                # Named by its rows: the same push again is that message, another set
                # of children (a rerun with another cap) is a new one.
                headers={"X-Message-Id": f"his-push-{self.period}-{digest}"},
            )
            self.results.pushed_records = int(answer["data"]["rows_accepted"])
            self.progress.advance("health push", len(rows))
            return len(rows)

        await self._timed("health push", len(rows), work)
        self.progress.finish(
            "health push", N_("{count} HIS rows pushed by MINSA"), count=self.results.pushed_records
        )

    async def health_extract(self) -> None:
        """The month's HIS extract, staged by the gateway's ``minsa-his-extract``
        exchange and read as it is staged (its rows are counted, not kept)."""
        year, month = (int(x) for x in self.period.split("-"))
        start = date(year, month, 1)
        end = self.results.as_of - timedelta(days=1)

        async def extract() -> int:
            run = await self.gw.call(
                "admin",
                "POST",
                "/v1/exchanges/minsa-his-extract/runs",
                json_body={"born_from": start.isoformat(), "born_to": end.isoformat()},
            )

            def take(rows: list[dict[str, Any]]) -> bool:
                self.results.health_records += len(rows)
                self.progress.advance("health extract", len(rows))
                return True

            await self._read_staged(
                "minsa-his-extract", run["id"], "coresponsibility-verification", take
            )
            return self.results.health_records

        await self._timed("health extract", None, extract)
        self.progress.finish(
            "health extract", N_("{count} HIS rows"), count=self.results.health_records
        )

    async def verdicts(self) -> None:
        """A verdict per affiliated child at the month's end, and the semáforo."""
        children = [h for h in self.results.households if h.consent_id]

        def take(h: Household, verdicts: list[dict[str, str]]) -> None:
            for v in verdicts:
                self.results.items[v["item"]][v["verdict"]] += 1
            h.missing = tuple(v["item"] for v in verdicts if v["verdict"] == "missing")
            h.compliant = not h.missing and h.t1 == "paid"
            h.priority = priority_of(h.missing)
            self.results.semaforo[self.registers.region(h.ubigeo)][h.priority] += 1

        await self._verdicts("verdicts", self.period, children, take, failed=True)
        compliant = sum(1 for h in children if h.compliant)
        self.results.funnel["compliant"] = compliant
        self.progress.finish(
            "verdicts",
            N_("{compliant} of {children} compliant"),
            compliant=compliant,
            children=len(children),
        )

    async def _verdicts(
        self,
        step: str,
        period: str,
        children: Sequence[Household],
        take: Callable[[Household, list[dict[str, str]]], None],
        *,
        failed: bool,
    ) -> None:
        """The gateway's verdicts for ``period`` (``YYYY-MM``), a batch of children a
        call; ``take`` gets each child judged and its verdicts. A child the gateway could
        not judge is skipped; with ``failed`` its outcome says why (``verdict-{slug}``),
        as does that of a batch refused for good."""

        async def batch(group: Sequence[Household]) -> None:
            answer = await self.gw.call(
                "consumer",
                "POST",
                "/v1/coresponsibility-verdicts",
                purpose="coresponsibility-verification",
                json_body={"period": period, "cuis": [h.cui for h in group]},
            )
            for h, judged in zip(group, answer["data"], strict=True):
                if "verdicts" in judged:
                    take(h, judged["verdicts"])
                elif failed:
                    h.priority = None
                    h.outcome = f"verdict-{judged['error']}"

        waiting = VERDICT_WAITING if failed else ()
        await self._timed(
            step,
            len(children),
            lambda: self._batches(step, children, batch, waiting, "verdict"),
        )

    async def follow_up(self) -> None:
        """The SMS follow-up of :func:`program.reminders.follow_up_months`: each month,
        the verdicts at the month's end, and reminders (in the month's rounds) to the
        caregivers of the children missing an item. A child born after the month's end
        has no verdict that month and is not reminded. The reminders are sent by the
        gateway while the operation goes on; :meth:`reminders_settled` reads them back."""
        children = [h for h in self.results.households if h.consent_id]
        for month, rounds in follow_up_months(self.results.as_of):
            missing = await self._missing(month, children)
            await self._remind(month, rounds, missing)

    async def _missing(self, month: str, children: Sequence[Household]) -> list[Household]:
        """The children whose verdicts at the end of ``month`` name a missing item."""
        missing: list[Household] = []

        def take(h: Household, verdicts: list[dict[str, str]]) -> None:
            if any(v["verdict"] == "missing" for v in verdicts):
                missing.append(h)

        await self._verdicts(f"verdicts {month}", month, children, take, failed=False)
        self.progress.finish(f"verdicts {month}", N_("{count} missing an item"), count=len(missing))
        return missing

    async def _remind(self, month: str, rounds: int, missing: Sequence[Household]) -> None:
        """``rounds`` reminders in ``month`` to each caregiver of ``missing``."""
        step = f"reminders {month}"

        async def send() -> int:
            caregivers = [Caregiver(h.cui, h.mother_dni, h.mobile) for h in missing]
            figures = await send_monthly_reminders(self.gw, month, caregivers, rounds)
            self.results.reminders[month] = figures
            for h in missing:
                h.months_to_remind += 1
                if h.mobile:
                    h.reminders += rounds
            self.progress.advance(step, len(missing))
            return len(missing)

        await self._timed(step, len(missing), send)
        figures = self.results.reminders[month]
        if rounds == 1:
            summary = (
                N_(
                    "{reminded} caregivers reminded once, {no_line} without a mobile line, "
                    "{earlier} already asked by an earlier run"
                )
                if figures.already_requested
                else N_("{reminded} caregivers reminded once, {no_line} without a mobile line")
            )
        else:
            summary = (
                N_(
                    "{reminded} caregivers reminded {rounds} times, {no_line} without a mobile "
                    "line, {earlier} already asked by an earlier run"
                )
                if figures.already_requested
                else N_(
                    "{reminded} caregivers reminded {rounds} times, {no_line} without a mobile line"
                )
            )
        self.progress.finish(
            step,
            summary,
            reminded=figures.asked - figures.no_line,
            rounds=rounds,
            no_line=figures.no_line,
            earlier=figures.already_requested,
        )

    async def reminders_settled(self, wait_seconds: float = 1_800.0) -> None:
        """Read the follow-up's reminders back once the gateway has sent them all and
        their receipts came (or ``wait_seconds`` have passed): accepted, delivered,
        failed, opted out."""
        months = list(self.results.reminders.values())
        if not months:
            return
        total = sum(len(f.batches) for f in months)

        async def work() -> int:
            deadline = time.monotonic() + wait_seconds
            for figures in months:
                left = max(0.0, deadline - time.monotonic())
                await read_back(self.gw, figures, wait_seconds=left, receipts=True)
                self.progress.advance("reminders sent", len(figures.batches))
            return sum(f.sent for f in months)

        await self._timed("reminders sent", total, work)
        delivered = sum(f.counts["delivered"] for f in months)
        queued = sum(f.counts["queued"] for f in months)
        summary = (
            N_(
                "{sent} accepted by the SMS centre, {delivered} delivered, {queued} still "
                "queued (outside the SMS centre's hours?)"
            )
            if queued
            else N_("{sent} accepted by the SMS centre, {delivered} delivered")
        )
        self.progress.finish(
            "reminders sent",
            summary,
            sent=self.results.sms_sent,
            delivered=delivered,
            queued=queued,
        )

    async def verify_audit(self) -> None:
        async def work() -> int:
            answer = await self.gw.call("auditor", "GET", "/v1/audit/verify", purpose="audit")
            self.results.audit = dict(answer["data"])
            return int(self.results.audit.get("events_checked", 0))

        await self._timed("audit verify", None, work)
        audit = self.results.audit
        self.progress.finish(
            "audit verify",
            N_("chain intact: {events} events")
            if audit.get("ok")
            else N_("chain BROKEN: {events} events"),
            events=audit.get("events_checked", 0),
        )
