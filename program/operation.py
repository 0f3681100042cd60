"""The DU 095-2020 operation, played by the programme's systems through the gateway.

Each step uses only the gateway's public API with the programme's own credentials:

1. newborns: the RENIEC periodic extract (Padrón Nominal) of the last 24 months (with a
   cap, the most recent newborns: the window is read backwards a month at a time);
2. eligibility: district poverty (district table), age, vital status, JUNTOS membership
   (from the Padrón row) and formal payroll (the programme's copy of the household
   register, simulated here from the sandbox population);
3. contact: OSIPTEL lines, a simulated affiliation call, and the consent it records;
4. accounts: Banco de la Nación accounts;
5. first transfer: a payment run, paid and reconciled;
6. health: HIS records (a push by MINSA and the periodic extract), co-responsibility
   verdicts, the semáforo; the second transfer for compliant households only;
7. audit: the gateway's audit chain verified.

Households that drop out are counted with their reason, never silently lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol

from program.client import GatewayClient, GatewayProblem
from program.territory import Territory

TRANSFER = Decimal("200.00")
ROLL_SIZE = 25_000
BATCH_SIZE = 500  # households per batch call (the gateway takes up to 1,000)
PRIORITIES = ("very-high", "high", "medium", "low")


class Progress(Protocol):
    def start(self, step: str, total: int | None) -> None: ...
    def advance(self, step: str, n: int = 1, total: int | None = None) -> None: ...
    def finish(self, step: str, summary: str) -> None: ...


class Registers(Protocol):
    """What the programme knows without asking the gateway."""

    def poverty_pct(self, ubigeo: str) -> float | None: ...
    def region(self, ubigeo: str) -> str: ...
    def formal_payroll(self, dni: str) -> bool: ...


@dataclass(slots=True)
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
    consent_id: str | None = None
    cci: str | None = None
    t1: str | None = None
    missing: tuple[str, ...] = ()
    priority: str | None = None
    compliant: bool = False
    t2: str | None = None


@dataclass
class StepFigures:
    name: str
    seconds: float = 0.0
    records: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@dataclass
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


def _draw(seed: int, *parts: str) -> float:
    """A reproducible uniform draw in [0, 1) for this seed and these parts."""
    digest = hashlib.sha256("|".join((str(seed), *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _digest(seed: int, *parts: str) -> str:
    """A short stable name for these parts (idempotency keys of batches)."""
    return hashlib.sha256("|".join((str(seed), *parts)).encode()).hexdigest()[:32]


def _windows(start: date, end: date, days: int = 366) -> list[tuple[date, date]]:
    out = []
    while start <= end:
        stop = min(end, start + timedelta(days=days - 1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out


def _months(born: date, on: date) -> int:
    return (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)


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
        waiting: str,
        failed: str,
    ) -> int:
        """Run ``work`` on batches of ``batch_size`` items, a few batches at a time (so
        that every gateway process has one to work on), with progress. A batch the
        gateway refuses for good (after the client's retries) leaves its households that
        were still ``waiting`` with the outcome ``{failed}-{problem}``: counted, not lost."""
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
                        if h.outcome == waiting:
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
        await self.newborns()
        self.eligibility()
        await self.contact()
        await self.accounts()
        await self.pay("T1", [h for h in self.results.households if h.cci])
        await self.push_health()
        await self.health()
        await self.pay("T2", [h for h in self.results.households if h.compliant])
        await self.verify_audit()
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
            for start, end in _windows(first, last):
                await run_window(start, end, self._take)
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
        self.progress.finish("newborns", f"{len(households):,} newborns from RENIEC")

    def _take(self, rows: list[dict[str, Any]]) -> bool:
        households = self.results.households
        for r in rows:
            households.append(
                Household(
                    cui=r["cui"],
                    mother_dni=r["mother_dni"],
                    mother_names=r["mother_names"],
                    ubigeo=r["ubigeo"],
                    birth_date=date.fromisoformat(r["birth_date"]),
                    alive=bool(r["alive"]),
                    in_juntos="JUNTOS" in r["social_programs"],
                )
            )
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
        self.progress.finish("eligibility", f"{funnel['eligible']:,} eligible")

    async def contact(self) -> None:
        """OSIPTEL lines, the affiliation call, and the consent the caregiver gives: a
        batch of households at a time (one look-up call and one consent call each)."""
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
                if not h.lines:
                    h.outcome = "no-phone-line"
                    continue
                draw = _draw(self.seed, "call", h.cui)
                if draw < 0.02:
                    h.outcome = "refused"
                elif draw < 0.05:
                    h.outcome = "unreachable"
                else:
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
        self.progress.finish("contact", f"{funnel['affiliated']:,} affiliated by phone")

    def _consent(self, h: Household) -> dict[str, Any]:
        recording = f"rec-{hashlib.sha256((str(self.seed) + h.cui).encode()).hexdigest()[:20]}"
        return {
            "cui": h.cui,
            "caregiver_dni": h.mother_dni,
            "purposes": ["payment", "coresponsibility-verification"],
            "data_categories": ["financial", "health"],
            "channel": "phone-call",
            "evidence": {
                "recording_ref": recording,
                "sha256": hashlib.sha256(recording.encode()).hexdigest(),
            },
            "agent_id": f"agent-{int(_draw(self.seed, 'agent', h.cui) * 400):03d}",
        }

    async def accounts(self) -> None:
        """Cuentas DNI in mass openings at Banco de la Nación, a batch of holders a call."""
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
                    h.outcome = "account-opened"
                else:
                    h.outcome = f"account-{opened['error']}"

        await self._timed(
            "accounts",
            len(affiliated),
            lambda: self._batches("accounts", affiliated, batch, "affiliated", "account"),
        )
        opened = sum(1 for h in affiliated if h.cci)
        self.results.funnel["account-opened"] = opened
        self.progress.finish("accounts", f"{opened:,} accounts at Banco de la Nación")

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
            "amount": "0.00",
        }
        # The bank executes on a real business day: the next one after today.
        requested = date.today() + timedelta(days=1)

        async def work() -> int:
            runs = []
            for part, start in enumerate(range(0, len(payees), ROLL_SIZE)):
                roll = payees[start : start + ROLL_SIZE]
                transfers = [
                    {
                        "end_to_end_id": f"DU095-{tranche}-{self.seed}-{start + n:07d}",
                        "dni": h.mother_dni,
                        "cci": h.cci,
                        "amount": str(TRANSFER),
                        "name": h.mother_names[:70],
                    }
                    for n, h in enumerate(roll)
                ]
                try:
                    created = await self.gw.call(
                        "consumer",
                        "POST",
                        "/v1/payment-runs",
                        purpose="payment",
                        json_body={
                            "run_ref": f"DU095-{tranche}-{self.seed}-{part:03d}",
                            "requested_date": requested.isoformat(),
                            "transfers": transfers,
                        },
                    )
                except GatewayProblem as exc:
                    if exc.status != 422:
                        raise
                    # No transfer of this roll could be paid: the gateway kept nothing.
                    figures["rejected"] += len(roll)
                    for h in roll:
                        setattr(h, tranche.lower(), "rejected")
                    self.progress.advance(step, len(roll))
                    continue
                runs.append((created["data"]["id"], roll))
            for run_id, roll in runs:
                done = await self._wait_run(f"/v1/payment-runs/{run_id}", "consumer", "payment")
                figures["paid"] += done["paid"]
                figures["rejected"] += done["rejected"] + len(
                    done["reconciliation"].get("rejected_at_intake", [])
                )
                figures["booked"] += done["reconciliation"].get("booked", 0)
                figures["second_debits"] += len(done["reconciliation"].get("second_debits", []))
                status = "paid" if done["state"] == "done" else done["state"]
                for h in roll:
                    setattr(h, tranche.lower(), status)
                self.progress.advance(step, len(roll))
            figures["amount"] = str(TRANSFER * figures["paid"])
            return len(payees)

        if payees:
            await self._timed(step, len(payees), work)
        self.results.payments[tranche] = figures
        self.progress.finish(
            step,
            f"{figures['paid']:,} paid, {figures['booked']:,} reconciled, "
            f"{figures['second_debits']} paid twice",
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

        async def work() -> int:
            answer = await self.gw.call(
                "partner",
                "POST",
                "/v1/inbound/minsa-his/health-records",
                purpose="coresponsibility-verification",
                content=("\n".join(rows) + "\n").encode(),
                content_type="application/x-ndjson",
                headers={"X-Message-Id": f"his-push-{self.seed}-{self.period}"},
            )
            self.results.pushed_records = int(answer["data"]["rows_accepted"])
            self.progress.advance("health push", len(rows))
            return len(rows)

        await self._timed("health push", len(rows), work)
        self.progress.finish("health push", f"{self.results.pushed_records:,} rows pushed by HIS")

    async def health(self) -> None:
        """The month's HIS extract, then a verdict per affiliated child and the semáforo."""
        children = [h for h in self.results.households if h.consent_id]
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
        self.progress.finish("health extract", f"{self.results.health_records:,} HIS rows")

        async def batch(group: Sequence[Household]) -> None:
            answer = await self.gw.call(
                "consumer",
                "POST",
                "/v1/coresponsibility-verdicts",
                purpose="coresponsibility-verification",
                json_body={"period": self.period, "cuis": [h.cui for h in group]},
            )
            for h, judged in zip(group, answer["data"], strict=True):
                if "verdicts" not in judged:
                    h.priority = None
                    h.outcome = f"verdict-{judged['error']}"
                    continue
                verdicts = judged["verdicts"]
                for v in verdicts:
                    self.results.items[v["item"]][v["verdict"]] += 1
                h.missing = tuple(v["item"] for v in verdicts if v["verdict"] == "missing")
                h.compliant = not h.missing and bool(h.t1)
                h.priority = priority_of(h.missing)
                self.results.semaforo[self.registers.region(h.ubigeo)][h.priority] += 1

        await self._timed(
            "verdicts",
            len(children),
            lambda: self._batches("verdicts", children, batch, "account-opened", "verdict"),
        )
        compliant = sum(1 for h in children if h.compliant)
        self.results.funnel["compliant"] = compliant
        self.progress.finish("verdicts", f"{compliant:,} of {len(children):,} compliant")

    async def verify_audit(self) -> None:
        async def work() -> int:
            answer = await self.gw.call("auditor", "GET", "/v1/audit/verify", purpose="audit")
            self.results.audit = dict(answer["data"])
            return int(self.results.audit.get("events_checked", 0))

        await self._timed("audit verify", None, work)
        audit = self.results.audit
        self.progress.finish(
            "audit verify",
            f"chain {'intact' if audit.get('ok') else 'BROKEN'}: "
            f"{audit.get('events_checked', 0):,} events",
        )
