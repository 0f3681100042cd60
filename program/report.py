"""The operation's results for the programme: a summary table for the terminal and a
self-contained HTML report (inline SVG, no script, no external file), in Spanish by
default or English (:mod:`program.i18n`, domain ``report``).

Every figure comes from the operation itself: the funnel from
:func:`program.operation.funnel_stages` and every count beside the published ones from
:meth:`program.operation.Results.summary`; this module only labels, lays out and
formats them. The report holds: the newborn window and cap read; the published DU
095-2020 figures beside this run's (:data:`program.published.PUBLISHED`); the funnel
(newborns → eligible → affiliated → with an account → first transfer paid → compliant),
each drop with its reason, every count with its percentage, so that each stage equals
the one before minus its drops; payments in soles; compliance by item; the SMS
follow-up month by month; the semáforo by territorial unit with the follow-up workload
and the reminders asked; health records, the audit check and the time per step.
Numbers, money (``S/``), months and dates follow the language's CLDR locale (``es_PE``
or ``en``, Babel). Every bar carries its value as text, so that the printed page says
what the screen says.

Only counts leave this module: no name, DNI, CUI, phone or account appears in either.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency, format_decimal
from rich.table import Table

from program.i18n import BABEL_LOCALES, DEFAULT_LOCALE, LOCALES, N_, translations
from program.operation import PRIORITIES, Household, Results, Stage, funnel_stages
from program.published import PUBLISHED

COLOURS = {
    "very-high": "#b03a2e",
    "high": "#d35400",
    "medium": "#f1c40f",
    "low": "#1e8449",
    "given": "#1e8449",
    "missing": "#b03a2e",
    "not-yet-due": "#95a5a6",
}
INK = {"medium": "#111", "not-yet-due": "#111"}  # dark text on light fills, white elsewhere
PRIORITY_LABELS = {
    "very-high": N_("Very high"),
    "high": N_("High"),
    "medium": N_("Medium"),
    "low": N_("Low"),
}
VERDICT_LABELS = {
    "given": N_("Given"),
    "missing": N_("Missing"),
    "not-yet-due": N_("Not yet due"),
}
ITEM_LABELS = {
    "rotavirus-1": N_("Rotavirus vaccine, dose 1"),
    "rotavirus-2": N_("Rotavirus vaccine, dose 2"),
    "pneumococcal-1": N_("Pneumococcal vaccine, dose 1"),
    "pneumococcal-2": N_("Pneumococcal vaccine, dose 2"),
    "pneumococcal-3": N_("Pneumococcal vaccine, dose 3"),
    "iron-drops": N_("Iron drops (from 4 months)"),
    "iron-supplement-6m": N_("Iron supplement (from 6 months)"),
}
STAGE_LABELS = {
    "newborns": N_("Newborns read from RENIEC"),
    "eligible": N_("Eligible under DU 095-2020"),
    "affiliated": N_("Affiliated: agreement accepted, consent recorded"),
    "with-account": N_("With a Banco de la Nación account"),
    "first-transfer-paid": N_("First transfer paid"),
    "compliant": N_("Compliant: nothing due missing"),
}
"""A label for each of :data:`program.operation.STAGES`."""
REASONS = {
    "district-poverty-below-15": N_("District with less than 15% monetary poverty"),
    "district-poverty-unknown": N_("District without a poverty figure"),
    "over-24-months": N_("Child aged 24 months or more"),
    "deceased": N_("Child registered as deceased"),
    "already-in-juntos": N_("Household already in JUNTOS"),
    "formal-payroll": N_("Caregiver with a formal payroll job (RNH)"),
    "refused": N_("Declined the commitment agreement"),
    "account-refused-deceased-holder": N_(
        "Caregiver registered as deceased: the bank refuses the account"
    ),
    "first-transfer-rejected": N_("First transfer rejected"),
    "first-transfer-not-sent": N_("First transfer not sent"),
    "first-transfer-paid-earlier": N_("First transfer already paid by an earlier run"),
    "priority-very-high": N_("A vaccine dose and iron missing (very high priority)"),
    "priority-high": N_("A vaccine dose missing (high priority)"),
    "priority-medium": N_("Iron missing (medium priority)"),
    "priority-low": N_("Nothing due missing, yet not judged compliant"),
    # Paid, but no verdict was asked for: the household kept its account outcome.
    "account-opened": N_("No health verdict yet"),
    "account-existing": N_("No health verdict yet"),
}
"""A label for each reason :func:`program.operation.funnel_stages` gives a drop-out."""
REASON_PREFIXES = (
    ("error-", N_("Contact not completed: the gateway did not answer")),
    ("account-refused-", N_("Account refused by the bank")),
    ("account-", N_("Account not opened: the gateway did not answer")),
    ("first-transfer-", N_("First transfer not completed")),
    ("verdict-", N_("No health verdict from the gateway")),
    ("priority-", N_("A service missing")),
)
"""Labels for families of reasons whose last part is a partner's or the gateway's code."""
STEP_LABELS = {
    "newborns": N_("Newborns (RENIEC extract)"),
    "eligibility": N_("Eligibility"),
    "contact": N_("Phone lines and consent"),
    "accounts": N_("Accounts"),
    "payment T1": N_("First transfer"),
    "payment T2": N_("Second transfer"),
    "health push": N_("HIS rows pushed by MINSA"),
    "health extract": N_("HIS extract"),
    "verdicts": N_("Co-responsibility verdicts"),
    "audit verify": N_("Audit chain check"),
    "cards": N_("Debit cards delivered (bank extract)"),
    "reminders sent": N_("SMS reminders: delivery receipts"),
}
MONTHLY_STEPS = {
    "verdicts": N_("Verdicts at the month's end"),
    "reminders": N_("SMS reminders"),
}
"""Steps the run takes once per month of the follow-up, named ``<step> YYYY-MM``."""
# Published figure, how this run's figure is read and why they differ. ``count`` and
# ``soles`` rows compare the summary's value under the same key; ``share`` rows compare
# its ``*_pct``; ``month`` rows the SMS accepted in that month (``sms_sent_by_month``).
COMPARISON: tuple[tuple[str, str, str, str], ...] = (
    (
        "eligible",
        N_("Households eligible"),
        "count",
        N_("The published figure is the decree's target; a run's counts follow its population."),
    ),
    (
        "households_affiliated",
        N_("Households affiliated"),
        "count",
        N_("Affiliated by phone or in a visit; declining or an unanswered step is not."),
    ),
    (
        "first_transfer_paid",
        N_("First transfer paid"),
        "count",
        N_("Paid to affiliated households holding an account."),
    ),
    (
        "accounts_opened",
        N_("Savings accounts opened"),
        "count",
        N_("New accounts only; caregivers already holding a Cuenta DNI were paid to it."),
    ),
    (
        "cards_delivered",
        N_("Debit cards delivered"),
        "count",
        N_("Counted when the bank reports card delivery."),
    ),
    (
        "transferred_soles",
        N_("Total transferred"),
        "soles",
        N_("Published: 662,605 transfers of S/ 200; this run pays two tranches at most."),
    ),
    (
        "compliant_households",
        N_("Households compliant (share of affiliated)"),
        "share",
        N_("Nothing due missing in the month judged: rotavirus, pneumococcal, iron for age."),
    ),
    (
        "very_high_priority_children",
        N_("Children of very high priority (share of the semáforo)"),
        "share",
        N_("A vaccine dose and iron both missing."),
    ),
    (
        "sms_sent",
        N_("SMS reminders accepted by the SMS centre"),
        "count",
        N_(
            "One per round and child with a service missing whose caregiver has a mobile "
            "line: one round in November, two in December."
        ),
    ),
    (
        "sms_sent_november",
        N_("SMS reminders, November 2020"),
        "month",
        N_("The first month of follow-up."),
    ),
    (
        "sms_sent_december",
        N_("SMS reminders, December 2020"),
        "month",
        N_(
            "Two rounds to the same caregivers, inferred from the published volume (twice "
            "November's for about as many children)."
        ),
    ),
    (
        "districts_covered",
        N_("Districts covered"),
        "count",
        N_("Districts with an affiliated household; the 2018 table has 1,591 at 15% or more."),
    ),
)
SHARE_OF = {
    "compliant_households": ("compliant_households_pct", "households_affiliated"),
    "very_high_priority_children": ("very_high_priority_children_pct", "semaforo_children"),
}
"""For each ``share`` row, the summary's (and the published) share and the count it is a
share of (as ``program.operation.summarise`` computes it)."""
MONTH_OF = {"sms_sent_november": "2020-11", "sms_sent_december": "2020-12"}
"""The month (``YYYY-MM``) of each ``month`` row."""
PRODUCED_BY = {"cards_delivered": "cards"}
"""A figure only a step of the run produces: without that step, it is not this run's."""


LIMA = ZoneInfo("America/Lima")

TEXT = {
    "du_095_2020_operation": N_("DU 095-2020 operation"),
    "transfer": N_("Transfer"),
    "sem_foro": N_("Semáforo"),
    "intact": N_("intact"),
    "broken": N_("BROKEN"),
    "stage_and_why_households_stopped_there": N_("Stage, and why households stopped there"),
    "households": N_("Households"),
    "share": N_("Share"),
    "no_payment_run": N_("No payment run."),
    "total_transferred": N_("Total transferred"),
    "no_verdicts": N_("No verdicts."),
    "all_units": N_("All units"),
    "counts_only": N_("Counts only: no personal data appears in this report."),
    "published_results_and_this_run": N_("Published results and this run"),
    "affiliation_funnel": N_("Affiliation funnel"),
    "payments_and_reconciliation": N_("Payments and reconciliation"),
    "co_responsibility_of_paid_households": N_("Co-responsibility of paid households"),
    "services_by_item_period": N_("Services by item ({period})"),
    "sms_follow_up": N_("SMS follow-up"),
    "sms_accepted": N_("SMS reminders accepted"),
    "no_sms": N_("No SMS reminders in this run."),
    "every_month": N_("Every month"),
    "sem_foro_by_territorial_unit": N_("Semáforo by territorial unit"),
    "health_records": N_("Health records"),
    "audit": N_("Audit"),
    "time_per_step": N_("Time per step"),
    "step": N_("Step"),
    "seconds": N_("Seconds"),
    "records": N_("Records"),
    "records_per_second": N_("Records per second"),
}
"""Headings and short texts used inside the page's f-strings (marked here for extraction)."""


class Words:
    """Text, numbers, money and dates in one language."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT_LOCALE
        self.cldr = BABEL_LOCALES[self.locale]
        self._t = translations(self.locale)

    def __call__(self, message: str) -> str:
        return self._t.gettext(message)

    def n(self, value: int | float | Decimal) -> str:
        return format_decimal(value, locale=self.cldr)

    def pct(self, part: float, whole: float) -> str:
        """``part`` as a percentage of ``whole``, one decimal (``—`` when ``whole`` is 0)."""
        if not whole:
            return "—"
        return self.percent(100 * part / whole)

    def percent(self, value: float) -> str:
        """A percentage (``value`` in percent), one decimal: ``43.8 %``."""
        return format_decimal(value, format="#,##0.0", locale=self.cldr) + " %"

    def rate(self, value: float | None) -> str:
        """Records per second, whole (``—`` for a step too short to measure one)."""
        return "—" if value is None else self.n(round(value))

    def soles(self, amount: int | float | Decimal) -> str:
        if self.locale == "es":
            return format_currency(amount, "PEN", locale=self.cldr)
        # CLDR English writes "PEN"; the sign a reader in Peru knows is "S/".
        return format_currency(amount, "PEN", format="S/\xa0#,##0.00", locale=self.cldr)

    def day(self, value: date) -> str:
        return format_date(value, format="long", locale=self.cldr)

    def month(self, key: str) -> str:
        """A month given as ``YYYY-MM``, spelt out (``noviembre de 2020``)."""
        year, month = (int(part) for part in key.split("-"))
        return format_skeleton("yMMMM", date(year, month, 1), locale=self.cldr)

    def stage(self, name: str) -> str:
        return self(STAGE_LABELS.get(name, N_("Other stage")))

    def reason(self, code: str) -> str:
        """A drop-out reason of :func:`program.operation.funnel_stages`, in words; a code
        of no known family is "Other reason"."""
        if code in REASONS:
            return self(REASONS[code])
        for prefix, label in REASON_PREFIXES:
            if code.startswith(prefix):
                return self(label)
        return self(N_("Other reason"))

    def step(self, name: str) -> str:
        """A step of the run (``Results.steps``): a monthly one (``reminders 2020-11``)
        with its month spelt out; a step of no known name as it is."""
        if name in STEP_LABELS:
            return self(STEP_LABELS[name])
        base, _, month = name.rpartition(" ")
        if base in MONTHLY_STEPS and re.fullmatch(r"\d{4}-\d{2}", month):
            return f"{self(MONTHLY_STEPS[base])}, {self.month(month)}"
        return name


# -- figures -------------------------------------------------------------------------


def labelled_drops(stage: Stage, w: Words) -> list[tuple[str, int]]:
    """A stage's drop-outs as (label, households), reasons that read the same merged;
    most households first, then by label."""
    merged: Counter[str] = Counter()
    for code, n in stage.dropped.items():
        merged[w.reason(code)] += n
    return sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))


def _unit_names(results: Results, w: Words) -> Callable[[Household], str]:
    """A household's territorial unit name; a district the register cannot place (no
    region served and no coordinates) is said so."""
    territory = results.territory
    unplaced = w(N_("No unit: district without a region or coordinates in the register"))
    if territory is None:
        return lambda h: unplaced

    def name(h: Household) -> str:
        unit = territory.unit_of(h.ubigeo)
        return unit.name if unit else unplaced

    return name


def semaforo_by_unit(
    results: Results, locale: str = DEFAULT_LOCALE
) -> list[tuple[str, Counter[str]]]:
    """Per territorial unit: children on the semáforo by priority (``very-high`` …
    ``low``), ``follow-up`` (of them, children with a service missing: the follow-up
    workload) and ``reminders`` (the SMS reminders the programme asked for, for the unit's
    children, over every month of the follow-up: the sum of ``Household.reminders``).
    Units by descending very-high count, then name."""
    unit_of = _unit_names(results, Words(locale))
    units: dict[str, Counter[str]] = {}
    for h in results.households:
        if h.priority is None and not h.reminders:
            continue
        counts = units.setdefault(unit_of(h), Counter())
        counts["reminders"] += h.reminders
        if h.priority is None:
            continue
        counts[h.priority] += 1
        if h.priority != "low":
            counts["follow-up"] += 1
    return sorted(units.items(), key=lambda kv: (-kv[1]["very-high"], kv[0]))


def _not_produced(results: Results, summary: Mapping[str, Any]) -> set[str]:
    """The summary's figures this run has no step for: the cards without the bank's
    extract, the SMS without a month of reminders."""
    steps = {s.name for s in results.steps}
    missing = {key for key, step in PRODUCED_BY.items() if step not in steps}
    by_month = summary.get("sms_sent_by_month") or {}
    if not by_month:
        missing.add("sms_sent")
    missing |= {key for key, month in MONTH_OF.items() if month not in by_month}
    return missing


# -- terminal ------------------------------------------------------------------------


def summary_table(results: Results, locale: str = DEFAULT_LOCALE) -> Table:
    """The run in the terminal: the funnel with its drops, the transfers, the semáforo,
    the SMS follow-up and the audit check (from ``Results.summary()`` and
    :func:`program.operation.funnel_stages`)."""
    w = Words(locale)
    summary = results.summary()
    table = Table(title=f"{w(TEXT['du_095_2020_operation'])}, {w.day(results.as_of)}")
    table.add_column(w(N_("Stage")))
    table.add_column(w(N_("Households")), justify="right")
    for stage in funnel_stages(results.households):
        table.add_row(w.stage(stage.name), w.n(stage.households))
        for label, n in labelled_drops(stage, w):
            table.add_row(f"  − {label}", w.n(n))
    # Money rows count transfers (a household paid twice counts twice), said in the cell:
    # the column above counts households.
    transfers = w(N_("{count} transfers"))
    for tranche, p in results.payments.items():
        table.add_row(
            f"{w(TEXT['transfer'])} {tranche}",
            f"{transfers.format(count=w.n(p['paid']))} · {w.soles(Decimal(p['amount']))}",
        )
    table.add_row(
        w(TEXT["total_transferred"]),
        f"{transfers.format(count=w.n(summary['transfers']))} · "
        f"{w.soles(summary['transferred_soles'])}",
    )
    total = sum(1 for h in results.households if h.priority)
    for priority in PRIORITIES:
        n = sum(1 for h in results.households if h.priority == priority)
        table.add_row(
            f"{w(TEXT['sem_foro'])}: {w(PRIORITY_LABELS[priority])}",
            f"{w.n(n)} ({w.pct(n, total)})",
        )
    for month, sent in summary["sms_sent_by_month"].items():
        table.add_row(
            f"{w(TEXT['sms_accepted'])}: {w.month(month)}",
            w(N_("{count} messages")).format(count=w.n(sent)),
        )
    audit = results.audit
    table.add_row(
        w(N_("Audit chain")),
        w(N_("{state}, {events} events")).format(
            state=w(TEXT["intact"]) if audit.get("ok") else w(TEXT["broken"]),
            events=w.n(audit.get("events_checked", 0)),
        ),
    )
    return table


def steps_table(results: Results, locale: str = DEFAULT_LOCALE) -> Table:
    w = Words(locale)
    table = Table(title=w(N_("Time per step")))
    for column in (N_("Step"), N_("Seconds"), N_("Records"), N_("Records per second")):
        table.add_column(w(column), justify="left" if column == "Step" else "right")
    for s in results.steps:
        table.add_row(
            w.step(s.name),
            format_decimal(s.seconds, format="#,##0.0", locale=w.cldr),
            w.n(s.records),
            w.rate(s.measured_rate),
        )
    return table


# -- SVG -------------------------------------------------------------------------------


def _text_width(text: str) -> float:
    """Width of ``text`` at 12 px, generously (capitals take about 8 px)."""
    return 7.2 * len(text)


def _bars(rows: Sequence[tuple[str, int, str]], colour: str, width: int = 860) -> str:
    """Horizontal bars, one per (label, count, value text), the value written after the
    bar."""
    top = max((v for _, v, _ in rows), default=0) or 1
    bar_h, gap = 22, 8
    label_w = 16 + max((_text_width(label) for label, _, _ in rows), default=80)
    value_w = 16 + max((_text_width(text) for _, _, text in rows), default=60)
    height = len(rows) * (bar_h + gap) + gap
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img">'
    ]
    for i, (label, value, text) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = (width - label_w - value_w) * value / top
        parts.append(
            f'<text x="{label_w - 8:.0f}" y="{y + 15}" text-anchor="end">'
            f"{html.escape(label)}</text>"
            f'<rect x="{label_w:.0f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 15}">{html.escape(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _stacked(
    rows: Sequence[tuple[str, Mapping[str, int]]],
    keys: Sequence[str],
    legend: Mapping[str, str],
    w: Words,
    width: int = 860,
) -> str:
    """One 100% bar per row, split by ``keys``: each part's count written inside it when
    it fits, and in any case in the table that goes with the chart; the row's total at the
    end; the legend above."""
    bar_h, gap = 20, 6
    label_w = 16 + max((_text_width(label) for label, _ in rows), default=80)
    legend_h = 26
    height = legend_h + len(rows) * (bar_h + gap) + gap
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img">'
    ]
    legend_x = label_w
    for key in keys:
        parts.append(
            f'<rect x="{legend_x:.0f}" y="4" width="12" height="12" '
            f'fill="{COLOURS.get(key, "#777")}"/>'
            f'<text x="{legend_x + 16:.0f}" y="15">{html.escape(legend[key])}</text>'
        )
        legend_x += 32 + _text_width(legend[key])
    span = width - label_w - 70
    for i, (label, counts) in enumerate(rows):
        y = legend_h + gap + i * (bar_h + gap)
        total = sum(counts.get(k, 0) for k in keys)
        parts.append(
            f'<text x="{label_w - 8:.0f}" y="{y + 14}" text-anchor="end">'
            f"{html.escape(label)}</text>"
        )
        x = float(label_w)
        for key in keys:
            n = counts.get(key, 0)
            seg = span * n / total if total else 0.0
            if seg:
                text = w.n(n)
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{seg:.1f}" height="{bar_h}" '
                    f'fill="{COLOURS.get(key, "#777")}"><title>{html.escape(legend[key])}: '
                    f"{text}</title></rect>"
                )
                if _text_width(text) + 6 <= seg:
                    parts.append(
                        f'<text class="value" x="{x + seg / 2:.1f}" y="{y + 14}" '
                        f'text-anchor="middle" style="fill: {INK.get(key, "#fff")}">{text}</text>'
                    )
            x += seg
        parts.append(
            f'<text class="value" x="{label_w + span + 6:.0f}" y="{y + 14}">{w.n(total)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(
    header: Sequence[str], rows: Sequence[Sequence[object]], cls: str = "", foot: str = ""
) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}</table>"


# -- the page ------------------------------------------------------------------------


def _window(results: Results, w: Words) -> str:
    if results.born_from is None or results.born_to is None:
        return ""
    dates = w(N_("Children born from {start} to {end}")).format(
        start=w.day(results.born_from), end=w.day(results.born_to)
    )
    if results.newborns_cap is None:
        return dates + "; " + w(N_("no cap: every newborn of the window."))
    return (
        dates
        + "; "
        + w(N_("cap of {cap} children, the most recent of the window.")).format(
            cap=w.n(results.newborns_cap)
        )
    )


def _funnel_section(stages: Sequence[Stage], w: Words) -> str:
    newborns = stages[0].households
    eligible = stages[1].households
    bars = []
    rows: list[str] = []
    for k, stage in enumerate(stages):
        label = w.stage(stage.name)
        share = w.pct(stage.households, newborns if k <= 1 else eligible)
        bars.append((label, stage.households, f"{w.n(stage.households)} ({share})"))
        rows.append(
            f'<tr class="stage"><th scope="row">{html.escape(label)}</th>'
            f'<td class="count">{w.n(stage.households)}</td><td>{share}</td></tr>'
        )
        for reason, n in labelled_drops(stage, w):
            rows.append(
                f'<tr class="drop"><td>− {html.escape(reason)}</td>'
                f'<td class="count">{w.n(n)}</td><td>{w.pct(n, stage.households)}</td></tr>'
            )
    header = (
        f"<thead><tr><th>{html.escape(w(TEXT['stage_and_why_households_stopped_there']))}</th>"
        f"<th>{html.escape(w(TEXT['households']))}</th>"
        f"<th>{html.escape(w(TEXT['share']))}</th></tr></thead>"
    )
    note = w(
        N_(
            "Shares: a stage as a share of the eligible households (the first two of the "
            "newborns); a drop as a share of the stage it leaves. Each stage is the one "
            "above minus the drops listed under it."
        )
    )
    return (
        _bars(bars, "#2c7fb8")
        + f'<table class="funnel">{header}<tbody>{"".join(rows)}</tbody></table>'
        + f'<p class="note">{html.escape(note)}</p>'
    )


def _follow_up_section(stages: Sequence[Stage], summary: Mapping[str, Any], w: Words) -> str:
    by_name = {s.name: s for s in stages}
    paid = by_name["first-transfer-paid"]
    compliant = by_name["compliant"].households
    missing = sum(
        n for code, n in paid.dropped.items() if code in {f"priority-{p}" for p in PRIORITIES[:3]}
    )
    no_verdict = paid.households - compliant - missing
    second = int(summary["second_transfer_paid"])
    rows = [
        (
            w(N_("First transfer paid")),
            w.n(paid.households),
            w.pct(paid.households, paid.households),
        ),
        (
            w(N_("Compliant: nothing due missing")),
            w.n(compliant),
            w.pct(compliant, paid.households),
        ),
        (w(N_("With a service missing")), w.n(missing), w.pct(missing, paid.households)),
        (w(N_("No verdict")), w.n(no_verdict), w.pct(no_verdict, paid.households)),
        (
            w(N_("Second transfer paid (compliant households)")),
            w.n(second),
            w.pct(second, compliant),
        ),
    ]
    return _table((w(N_("Stage")), w(N_("Households")), w(N_("Share"))), rows)


def _payments_section(results: Results, summary: Mapping[str, Any], w: Words) -> str:
    if not results.payments:
        return f"<p>{html.escape(w(TEXT['no_payment_run']))}</p>"
    names = {"T1": N_("First transfer"), "T2": N_("Second transfer")}
    rows = []
    for tranche, p in results.payments.items():
        amount = Decimal(str(p.get("amount", "0")))
        payees = int(p.get("payees", 0))
        rows.append(
            (
                w(names.get(tranche, tranche)),
                w.n(payees),
                f"{w.n(int(p.get('paid', 0)))} ({w.pct(int(p.get('paid', 0)), payees)})",
                w.n(int(p.get("rejected", 0))),
                w.n(int(p.get("booked", 0))),
                w.n(int(p.get("second_debits", 0))),
                w.soles(amount),
            )
        )
    foot = (
        f'<tfoot><tr><th colspan="6">{html.escape(w(TEXT["total_transferred"]))}</th>'
        f'<td class="total">{w.soles(summary["transferred_soles"])}</td></tr></tfoot>'
    )
    header = (
        w(N_("Transfer")),
        w(N_("Payees")),
        w(N_("Paid")),
        w(N_("Rejected")),
        w(N_("Reconciled (camt.054)")),
        w(N_("Paid twice")),
        w(N_("Amount")),
    )
    bars = [
        (w(names.get(t, t)), int(p.get("paid", 0)), w.soles(Decimal(str(p.get("amount", "0")))))
        for t, p in results.payments.items()
    ]
    return _bars(bars, "#16a085") + _table(header, rows, foot=foot)


def _compliance_section(results: Results, w: Words) -> str:
    if not results.items:
        return f"<p>{html.escape(w(TEXT['no_verdicts']))}</p>"
    keys = tuple(VERDICT_LABELS)
    legend = {k: w(VERDICT_LABELS[k]) for k in keys}
    rows = [(w(ITEM_LABELS.get(item, item)), dict(c)) for item, c in results.items.items()]
    table_rows = []
    for label, c in rows:
        total = sum(c.get(k, 0) for k in keys)
        table_rows.append(
            (label, *(f"{w.n(c.get(k, 0))} ({w.pct(c.get(k, 0), total)})" for k in keys))
        )
    return _stacked(rows, keys, legend, w) + _table(
        (w(N_("Service")), *legend.values()), table_rows
    )


def _sms_section(results: Results, summary: Mapping[str, Any], w: Words) -> str:
    """The SMS follow-up month by month: caregivers to remind, those without a mobile
    line, the month's rounds and reminders asked, those the SMS centre accepted and what
    their delivery receipts said, opt-outs."""
    if not results.reminders:
        return f"<p>{html.escape(w(TEXT['no_sms']))}</p>"
    sent_by_month = summary["sms_sent_by_month"]
    months = sorted(results.reminders)

    def cells(
        caregivers: int, no_line: int, asked: int, sent: int, counts: Counter[str]
    ) -> list[str]:
        failed = counts["failed"] + counts["expired"]
        return [
            w.n(caregivers),
            f"{w.n(no_line)} ({w.pct(no_line, caregivers)})",
            w.n(asked),
            f"{w.n(sent)} ({w.pct(sent, asked)})",
            f"{w.n(counts['delivered'])} ({w.pct(counts['delivered'], sent)})",
            f"{w.n(failed)} ({w.pct(failed, sent)})",
            f"{w.n(counts['opted_out'])} ({w.pct(counts['opted_out'], asked)})",
        ]

    rows = []
    total: Counter[str] = Counter()
    for month in months:
        f = results.reminders[month]
        asked = f.rounds * (f.asked - f.no_line)
        sent = int(sent_by_month.get(month, f.sent))
        row = cells(f.asked, f.no_line, asked, sent, f.counts)
        rows.append((w.month(month), *row[:2], w.n(f.rounds), *row[2:]))
        total.update(f.counts)
        total["asked"] += asked
    # Every month together: a caregiver reminded in two months is one caregiver.
    caregivers = [h for h in results.households if h.months_to_remind]
    without_line = sum(1 for h in caregivers if not h.mobile)
    every = cells(len(caregivers), without_line, total["asked"], int(summary["sms_sent"]), total)
    foot = (
        f"<tfoot><tr><th>{html.escape(w(TEXT['every_month']))}</th>"
        + "".join(f"<td>{c}</td>" for c in (*every[:2], "", *every[2:]))
        + "</tr></tfoot>"
    )
    header = (
        w(N_("Month")),
        w(N_("Caregivers to remind")),
        w(N_("Without a mobile line")),
        w(N_("Reminders each")),
        w(N_("Reminders asked")),
        w(N_("Accepted by the SMS centre")),
        w(N_("Delivered")),
        w(N_("Failed or expired")),
        w(N_("Opted out (BAJA)")),
    )
    bars = [
        (w.month(m), int(sent_by_month.get(m, 0)), w.n(int(sent_by_month.get(m, 0))))
        for m in months
    ]
    note = w(
        N_(
            "At the end of each month, the caregivers of the children missing a vaccine dose "
            "or iron are reminded on their mobile line, once per round of the month; the "
            "message names no service. Shares: without a line, of the caregivers to remind; "
            "accepted and opted out, of the reminders asked; delivered, failed or expired, of "
            "the reminders accepted, as the delivery receipts say. In the row of every month, "
            "a caregiver reminded in several months counts once."
        )
    )
    left = []
    queued = int(summary.get("sms_queued", 0))
    if queued:
        left.append(
            w(
                N_(
                    "{count} reminders were still queued when the run ended: the SMS centre "
                    "sends only within the operator's hours and messages per second, or it "
                    "could not be reached. The gateway sends them when it can; they are not "
                    "counted as accepted here."
                )
            ).format(count=w.n(queued))
        )
    earlier = int(summary.get("sms_already_requested", 0))
    if earlier:
        left.append(
            w(
                N_(
                    "{count} reminders had already been asked for by an earlier run against "
                    "this gateway: they are not sent again, nor counted here."
                )
            ).format(count=w.n(earlier))
        )
    return (
        _bars(bars, "#8e44ad")
        + _table(header, rows, cls="sms", foot=foot)
        + f'<p class="note">{html.escape(note)}</p>'
        + "".join(f'<p class="note warn">{html.escape(t)}</p>' for t in left)
    )


def _semaforo_section(results: Results, w: Words) -> str:
    units = semaforo_by_unit(results, w.locale)
    if not units:
        return f"<p>{html.escape(w(TEXT['no_verdicts']))}</p>"
    legend = {k: w(PRIORITY_LABELS[k]) for k in PRIORITIES}
    total = Counter[str]()
    table_rows = []
    for name, c in units:
        total.update(c)
        children = sum(c[p] for p in PRIORITIES)
        table_rows.append(
            (
                name,
                *(f"{w.n(c[p])} ({w.pct(c[p], children)})" for p in PRIORITIES),
                w.n(children),
                w.n(c["follow-up"]),
                w.n(c["reminders"]),
            )
        )
    children = sum(total[p] for p in PRIORITIES)
    foot = (
        f"<tfoot><tr><th>{html.escape(w(TEXT['all_units']))}</th>"
        + "".join(f"<td>{w.n(total[p])} ({w.pct(total[p], children)})</td>" for p in PRIORITIES)
        + f"<td>{w.n(children)}</td><td>{w.n(total['follow-up'])}</td>"
        f"<td>{w.n(total['reminders'])}</td></tr></tfoot>"
    )
    header = (
        w(N_("Territorial unit")),
        *legend.values(),
        w(N_("Children")),
        w(N_("To follow up")),
        w(N_("SMS reminders asked, every month")),
    )
    low_unpaid = sum(1 for h in results.households if h.priority == "low" and not h.compliant)
    note = w(
        N_(
            "Every affiliated child is on the list. Low: nothing due is missing; {n} of them "
            "are in households without a paid first transfer, so they are not counted as "
            "compliant. To follow up: children with a service missing (very high, high, "
            "medium). SMS reminders: those asked for the unit's caregivers over every month "
            "of the follow-up, one per child with a service missing and round of the month; a "
            "caregiver without a mobile line gets none."
        )
    ).format(n=w.n(low_unpaid))
    return (
        _stacked([(name, c) for name, c in units], PRIORITIES, legend, w)
        + _table(header, table_rows, cls="semaforo", foot=foot)
        + f'<p class="note">{html.escape(note)}</p>'
    )


def _published_section(results: Results, summary: Mapping[str, Any], w: Words) -> str:
    not_produced = _not_produced(results, summary)
    by_month = summary.get("sms_sent_by_month") or {}
    rows = []
    for key, label, kind, why in COMPARISON:
        if kind == "share":
            pct_key, base_key = SHARE_OF[key]
            published_text = f"{w.n(PUBLISHED[pct_key])} %"
            share, count = summary.get(pct_key), summary.get(key)
            if summary.get(base_key) and isinstance(share, int | float) and isinstance(count, int):
                run = f"{w.percent(share)} ({w.n(count)})"
                diff = format_decimal(
                    share - PUBLISHED[pct_key], format="+#,##0.0;-#,##0.0", locale=w.cldr
                )
                diff += " " + w(N_("points"))
            else:
                run, diff = "—", "—"
        else:
            published_value = PUBLISHED[key]
            fmt = w.soles if kind == "soles" else w.n
            published_text = fmt(published_value)
            value = by_month.get(MONTH_OF[key]) if kind == "month" else summary.get(key)
            if key in not_produced or not isinstance(value, int):
                run, diff = "—", "—"
                why = N_("Not produced by this run.")
            else:
                run = fmt(value)
                delta = value - published_value
                diff = f"{fmt(delta)} ({w.pct(delta, published_value)})"
                if delta > 0:
                    diff = "+" + diff
        rows.append((w(label), published_text, run, diff, w(why)))
    header = (
        w(N_("Measure")),
        w(N_("Published (DU 095-2020)")),
        w(N_("This run")),
        w(N_("Difference")),
        w(N_("Why")),
    )
    note = ""
    eligible = summary.get("eligible")
    if isinstance(eligible, int) and eligible:
        note = w(
            N_(
                "This run's eligible households are {share} of the decree's target: its counts "
                "differ from the published ones by that scale; its shares compare directly."
            )
        ).format(
            share=format_decimal(
                100 * eligible / PUBLISHED["eligible"], format="#,##0.0##", locale=w.cldr
            )
            + " %"
        )
    return _table(header, rows, cls="published") + f'<p class="note">{html.escape(note)}</p>'


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 62rem;
       color: #111; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
svg text { font: 12px system-ui, sans-serif; fill: #111; }
svg text.value { font-weight: 600; }
table { border-collapse: collapse; margin: .6rem 0; }
td, th { border: 1px solid #bbb; padding: .2rem .6rem; vertical-align: top; }
td:not(:first-child) { text-align: right; font-variant-numeric: tabular-nums;
                       white-space: nowrap; }
table.published td:last-child { text-align: left; max-width: 22rem; white-space: normal; }
tr.stage th { text-align: left; } tr.drop td:first-child { padding-left: 1.6rem; color: #444; }
.note { color: #444; font-size: .9rem; max-width: 50rem; }
.ok { color: #1e8449; } .bad { color: #b03a2e; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  svg.chart { max-width: 100%; height: auto; }
  table { font-size: 9.5pt; max-width: 100%; } table.published td { white-space: normal; }
  h2 { break-after: avoid; } svg, tr { break-inside: avoid; }
}
"""


def write_html(
    results: Results,
    path: Path,
    *,
    title_note: str = "",
    locale: str = DEFAULT_LOCALE,
) -> Path:
    """Write the report for ``results`` to ``path`` (UTF-8 HTML, parents created) in
    ``locale`` (``es`` or ``en``; another falls back to Spanish) and return ``path``.
    The funnel is :func:`program.operation.funnel_stages` of the run's households; every
    figure beside the published ones is the run's :meth:`Results.summary` (the figures
    ``demo --summary`` writes)."""
    w = Words(locale)
    summary = results.summary()
    stages = funnel_stages(results.households)
    steps = [
        (
            w.step(s.name),
            format_decimal(s.seconds, format="#,##0.0", locale=w.cldr),
            w.n(s.records),
            w.rate(s.measured_rate),
        )
        for s in results.steps
    ]
    step_header = [w(TEXT[k]) for k in ("step", "seconds", "records", "records_per_second")]
    audit = results.audit
    # In Lima's time, as the console and the auditor's reports give theirs.
    generated = datetime.now(LIMA)
    e = html.escape
    title = w(N_("DU 095-2020 operation: affiliation, payments and co-responsibility"))
    intro = w(
        N_("Situation at {as_of}; health judged for {period}. Generated {generated}.")
    ).format(
        as_of=w.day(results.as_of),
        period=results.period,
        generated=w.day(generated.date()) + generated.strftime(" %H:%M (Lima)"),
    )
    audit_text = w(
        N_(
            "Audit chain {state}: {events} events verified; signed checkpoints verified: "
            "{checkpoints}."
        )
    ).format(
        state=w(N_("intact")) if audit.get("ok") else w(N_("BROKEN")),
        events=w.n(audit.get("events_checked", 0)),
        checkpoints=w.n(audit.get("checkpoints_checked", 0)),
    )
    records = w(
        N_(
            "{extract} HIS rows from the periodic extract (children with consent only); "
            "{pushed} rows pushed by MINSA."
        )
    ).format(extract=w.n(results.health_records), pushed=w.n(results.pushed_records))
    calls = w(N_("Calls to the gateway: {calls}; of them retried: {retries}.")).format(
        calls=w.n(results.calls), retries=w.n(results.retries)
    )
    page = f"""<!doctype html>
<html lang="{w.locale}"><head><meta charset="utf-8">
<title>{e(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{e(title)}</h1>
<p>{e(intro)} {e(title_note)}</p>
<p class="window">{e(_window(results, w))}</p>
<p class="note">{e(w(TEXT["counts_only"]))}</p>
<h2>{e(w(TEXT["published_results_and_this_run"]))}</h2>
{_published_section(results, summary, w)}
<h2>{e(w(TEXT["affiliation_funnel"]))}</h2>
{_funnel_section(stages, w)}
<h2>{e(w(TEXT["payments_and_reconciliation"]))}</h2>
{_payments_section(results, summary, w)}
<h2>{e(w(TEXT["co_responsibility_of_paid_households"]))}</h2>
{_follow_up_section(stages, summary, w)}
<h2>{e(w(TEXT["services_by_item_period"]).format(period=results.period))}</h2>
{_compliance_section(results, w)}
<h2>{e(w(TEXT["sms_follow_up"]))}</h2>
{_sms_section(results, summary, w)}
<h2>{e(w(TEXT["sem_foro_by_territorial_unit"]))}</h2>
{_semaforo_section(results, w)}
<h2>{e(w(TEXT["health_records"]))}</h2>
<p>{e(records)}</p>
<h2>{e(w(TEXT["audit"]))}</h2>
<p class="{"ok" if audit.get("ok") else "bad"}">{e(audit_text)}</p>
<h2>{e(w(TEXT["time_per_step"]))}</h2>
{_table(step_header, steps, "steps")}
<p>{e(calls)}</p>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
