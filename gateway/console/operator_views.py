"""What the operator's pages show, built from the services' answers: plain dictionaries
a template lays out, with code names kept beside the message ids of their labels
(``gateway.console.operator_labels``). Nothing here reads the database or the request.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from gateway.console.operator_labels import (
    BREAKER,
    PARTNER_ERRORS,
    PARTNERS,
    REACH,
)
from gateway.partners.reachability import Reach


def moment(value: str | datetime | None) -> datetime | None:
    """An ISO 8601 text (``Z`` allowed) or a datetime as a datetime; None stays None."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def partner_rows(
    report: dict[str, Any], addresses: dict[str, str | None], reached: dict[str, Reach]
) -> list[dict[str, Any]]:
    """One row per partner (the four known first, in their order, then any other the
    health report names): breaker state and its explanation, calls, failures, calls
    refused by the breaker, latency (min, weighted average, max in ms), the address in
    use, whether it accepts a connection now, and each operation's last error (newest
    first) with its cause."""
    names = [*PARTNERS, *sorted(set(report) - set(PARTNERS))]
    rows = []
    for name in names:
        health = report.get(name) or {"breaker": "closed", "in_flight": 0, "operations": {}}
        successes = failures = rejected = 0
        weighted = 0.0
        lows: list[float] = []
        highs: list[float] = []
        errors: list[dict[str, Any]] = []
        last_success: datetime | None = None
        for operation, stats in health["operations"].items():
            calls = stats["successes"] + stats["failures"]
            successes += stats["successes"]
            failures += stats["failures"]
            rejected += stats["rejected_by_breaker"]
            latency = stats["latency_ms"]
            if calls and latency["avg"] is not None:
                weighted += latency["avg"] * calls
            if latency["min"] is not None:
                lows.append(latency["min"])
            if latency["max"] is not None:
                highs.append(latency["max"])
            succeeded_at = moment(stats["last_success_at"])
            if succeeded_at and (last_success is None or succeeded_at > last_success):
                last_success = succeeded_at
            if stats["last_failure_at"]:
                errors.append(
                    {
                        "operation": operation,
                        "at": moment(stats["last_failure_at"]),
                        "error": stats["last_error"],
                        "error_label": PARTNER_ERRORS.get(stats["last_error"] or "", ""),
                        "cause": stats["last_error_cause"],
                        "recovered": bool(
                            succeeded_at and succeeded_at > moment(stats["last_failure_at"])  # type: ignore[operator]
                        ),
                    }
                )
        errors.sort(key=lambda e: e["at"], reverse=True)
        breaker = health["breaker"]
        label, meaning = BREAKER.get(breaker, (breaker, ""))
        reach = reached.get(name)
        calls = successes + failures
        rows.append(
            {
                "name": name,
                "label": PARTNERS.get(name, name),
                "breaker": breaker,
                "breaker_label": label,
                "breaker_meaning": meaning,
                "address": addresses.get(name),
                "reachable": reach.ok if reach else None,
                "reach_label": REACH.get(reach.cause if reach else "no address", ""),
                "reach_cause": reach.cause if reach else None,
                "reach_ms": reach.milliseconds if reach else None,
                "calls": calls,
                "successes": successes,
                "failures": failures,
                "rejected": rejected,
                "in_flight": health.get("in_flight", 0),
                "latency_min": min(lows) if lows else None,
                "latency_avg": round(weighted / calls, 1) if calls else None,
                "latency_max": max(highs) if highs else None,
                "last_success_at": last_success,
                "errors": errors,
                "healthy": breaker == "closed" and (reach is None or reach.ok),
            }
        )
    return rows


def refusals_by_reason(rejections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A message's refused rows grouped by (field, message), most frequent first: each
    group's ``field``, ``message``, ``rows`` (how many) and ``examples`` (the first ten
    row numbers). A row with two errors counts in both groups."""
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[int]] = {}
    for refused in rejections:
        for error in refused.get("errors", []):
            key = (str(error.get("field", "")), str(error.get("message", "")))
            counts[key] += 1
            numbers = examples.setdefault(key, [])
            if len(numbers) < 10:
                numbers.append(int(refused.get("row", 0)))
    return [
        {"field": field, "message": message, "rows": count, "examples": examples[(field, message)]}
        for (field, message), count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
