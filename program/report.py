"""The operation's results: a summary table for the terminal and a self-contained HTML
report (inline SVG charts, no script, no external file) with the affiliation funnel,
payments and reconciliation, compliance by item and the semáforo by region.

Only counts leave this module: no name, DNI, CUI, phone or account appears in either.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from program.operation import PRIORITIES, Results

COLOURS = {
    "very-high": "#c0392b",
    "high": "#e67e22",
    "medium": "#f1c40f",
    "low": "#27ae60",
    "given": "#27ae60",
    "missing": "#c0392b",
    "not-yet-due": "#95a5a6",
}
FUNNEL = (
    ("newborns", "Newborns from RENIEC (last 24 months)"),
    ("eligible", "Eligible"),
    ("affiliated", "Affiliated by phone, consent recorded"),
    ("account-opened", "Account opened at Banco de la Nación"),
    ("paid-t1", "First transfer paid"),
    ("compliant", "Compliant with co-responsibilities"),
    ("paid-t2", "Second transfer paid"),
)
DROPOUTS = (
    "district-poverty-below-15",
    "district-poverty-unknown",
    "over-24-months",
    "deceased",
    "already-in-juntos",
    "formal-payroll",
    "no-phone-line",
    "unreachable",
    "refused",
)


def funnel_counts(results: Results) -> list[tuple[str, int]]:
    counts = dict(results.funnel)
    counts["paid-t1"] = results.payments.get("T1", {}).get("paid", 0)
    counts["paid-t2"] = results.payments.get("T2", {}).get("paid", 0)
    return [(label, int(counts.get(key, 0))) for key, label in FUNNEL]


def summary_table(results: Results) -> Table:
    table = Table(title=f"DU 095-2020 operation, as of {results.as_of}", show_lines=False)
    table.add_column("Stage")
    table.add_column("Households", justify="right")
    for label, count in funnel_counts(results):
        table.add_row(label, f"{count:,}")
    for key in DROPOUTS:
        if results.funnel.get(key):
            table.add_row(f"  not affiliated: {key}", f"{results.funnel[key]:,}")
    errors = {k: v for k, v in results.funnel.items() if k.startswith(("error-", "account-"))}
    for key, count in sorted(errors.items()):
        if key != "account-opened":
            table.add_row(f"  stopped: {key}", f"{count:,}")
    for tranche, p in results.payments.items():
        table.add_row(
            f"Transfer {tranche}",
            f"{p['paid']:,} paid, S/ {p['amount']}, {p['booked']:,} reconciled, "
            f"{p['second_debits']} paid twice",
        )
    total = sum(sum(c.values()) for c in results.semaforo.values())
    for priority in PRIORITIES:
        n = sum(c[priority] for c in results.semaforo.values())
        share = f" ({n / total:.0%})" if total else ""
        table.add_row(f"Semáforo {priority}", f"{n:,}{share}")
    audit = results.audit
    table.add_row(
        "Audit chain",
        f"{'intact' if audit.get('ok') else 'BROKEN'}, {audit.get('events_checked', 0):,} events",
    )
    causes = ", ".join(f"{k} {v:,}" for k, v in sorted(results.retry_causes.items()))
    table.add_row(
        "Gateway calls (retries)",
        f"{results.calls:,} ({results.retries:,}{': ' + causes if causes else ''})",
    )
    return table


def steps_table(results: Results) -> Table:
    table = Table(title="Time per step")
    table.add_column("Step")
    table.add_column("Seconds", justify="right")
    table.add_column("Records", justify="right")
    table.add_column("Records/s", justify="right")
    for s in results.steps:
        table.add_row(s.name, f"{s.seconds:.1f}", f"{s.records:,}", f"{s.rate:,.0f}")
    return table


# -- SVG -------------------------------------------------------------------------------


def _label_width(labels: Iterable[str]) -> int:
    """Room for the longest label at 12 px (capitals take about 10 px), plus a margin."""
    return 20 + 10 * max((len(label) for label in labels), default=10)


def _bars(rows: Sequence[tuple[str, int]], colour: str = "#2c7fb8", width: int = 860) -> str:
    """Horizontal bars, one per row, labelled with the count."""
    top = max((v for _, v in rows), default=0) or 1
    bar_h, gap = 22, 8
    label_w = _label_width(label for label, _ in rows)
    height = len(rows) * (bar_h + gap) + gap
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = (width - label_w - 90) * value / top
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{value:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _stacked(
    rows: Sequence[tuple[str, dict[str, int]]], keys: Sequence[str], width: int = 860
) -> str:
    """One 100% bar per row, split by ``keys``; the legend above."""
    bar_h, gap = 18, 6
    label_w = _label_width(label for label, _ in rows)
    legend_h = 26
    height = legend_h + len(rows) * (bar_h + gap) + gap
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    legend_x = label_w
    for key in keys:
        parts.append(
            f'<rect x="{legend_x}" y="4" width="12" height="12" '
            f'fill="{COLOURS.get(key, "#777")}"/>'
            f'<text x="{legend_x + 16}" y="15">{html.escape(key)}</text>'
        )
        legend_x += 28 + 9 * len(key)
    span = width - label_w - 70
    for i, (label, counts) in enumerate(rows):
        y = legend_h + gap + i * (bar_h + gap)
        total = sum(counts.get(k, 0) for k in keys)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end">{html.escape(label)}</text>'
        )
        x = float(label_w)
        for key in keys:
            w = span * counts.get(key, 0) / total if total else 0.0
            if w:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                    f'fill="{COLOURS.get(key, "#777")}"><title>{html.escape(key)}: '
                    f"{counts.get(key, 0):,}</title></rect>"
                )
            x += w
        parts.append(f'<text x="{label_w + span + 6}" y="{y + 13}">{total:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_html(results: Results, path: Path, *, title_note: str = "") -> Path:
    funnel = funnel_counts(results)
    dropouts = [(k, int(results.funnel.get(k, 0))) for k in DROPOUTS if results.funnel.get(k)]
    payments = [
        (f"{t}: {label}", int(p.get(key, 0)))
        for t, p in results.payments.items()
        for key, label in (
            ("payees", "payees"),
            ("paid", "paid"),
            ("rejected", "rejected"),
            ("booked", "reconciled (camt.054)"),
            ("second_debits", "paid twice"),
        )
    ]
    items = [(item, dict(counts)) for item, counts in results.items.items()]
    regions = sorted(results.semaforo.items(), key=lambda kv: -kv[1]["very-high"])
    semaforo = [(region, dict(counts)) for region, counts in regions]
    steps = [
        (s.name, f"{s.seconds:.1f}", f"{s.records:,}", f"{s.rate:,.0f}") for s in results.steps
    ]
    audit = results.audit
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>DU 095-2020 operation report</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem;
       color: #222; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.15rem; margin-top: 2rem; }}
svg text {{ font: 12px system-ui, sans-serif; fill: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .2rem .6rem; }}
td:not(:first-child) {{ text-align: right; }}
.ok {{ color: #27ae60; }} .bad {{ color: #c0392b; }}
</style></head><body>
<h1>DU 095-2020 operation: affiliation, payments and co-responsibility</h1>
<p>As of {results.as_of}; health judged for {results.period}. Generated {generated}.
{html.escape(title_note)} Counts only: no personal data appears in this report.</p>
<h2>Affiliation funnel</h2>
{_bars(funnel)}
<h2>Why households were not affiliated</h2>
{_bars(dropouts, "#7f8c8d") if dropouts else "<p>None.</p>"}
<h2>Payments and reconciliation</h2>
{_bars(payments, "#16a085") if payments else "<p>No payment run.</p>"}
<h2>Compliance by item ({results.period})</h2>
{_stacked(items, ("given", "missing", "not-yet-due")) if items else "<p>No verdicts.</p>"}
<h2>Semáforo by region (children to follow up)</h2>
{_stacked(semaforo, PRIORITIES) if semaforo else "<p>No verdicts.</p>"}
<h2>Health records</h2>
<p>{results.health_records:,} HIS rows from the periodic extract (children with consent only);
{results.pushed_records:,} rows pushed by MINSA.</p>
<h2>Audit</h2>
<p class="{"ok" if audit.get("ok") else "bad"}">Audit chain
{"intact" if audit.get("ok") else "BROKEN"}: {audit.get("events_checked", 0):,} events and
{audit.get("checkpoints_checked", 0):,} signed checkpoints verified.</p>
<h2>Time per step</h2>
{_table(("Step", "Seconds", "Records", "Records/s"), steps)}
<p>{results.calls:,} calls to the gateway, {results.retries:,} of them retries.</p>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
