"""Partner health in the manner of X-Road's health data, plus Prometheus metrics.

Per partner and operation: last success and failure, counts, latency min/avg/max; per
partner: breaker state and calls in flight. Process-local, like the breaker it reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BREAKER_CODES = {"closed": 0, "half-open": 1, "open": 2}


@dataclass
class OperationStats:
    successes: int = 0
    failures: int = 0
    rejected: int = 0
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None
    last_error_cause: str | None = None
    latency_min_ms: float | None = None
    latency_max_ms: float | None = None
    latency_total_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        calls = self.successes + self.failures
        return {
            "successes": self.successes,
            "failures": self.failures,
            "rejected_by_breaker": self.rejected,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "last_failure_at": self.last_failure_at.isoformat() if self.last_failure_at else None,
            "last_error": self.last_error,
            "last_error_cause": self.last_error_cause,
            "latency_ms": {
                "min": _round(self.latency_min_ms),
                "avg": _round(self.latency_total_ms / calls) if calls else None,
                "max": _round(self.latency_max_ms),
            },
        }


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


class PartnerHealth:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.operations: dict[tuple[str, str], OperationStats] = {}
        self.breakers: dict[str, str] = {}
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self._calls = Counter(
            "gateway_partner_calls",
            "Calls to partner agencies by partner, operation and outcome.",
            ["partner", "operation", "outcome"],
            registry=registry,
        )
        self._latency = Histogram(
            "gateway_partner_call_duration_seconds",
            "Duration of one call to a partner agency.",
            ["partner", "operation"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self._breaker = Gauge(
            "gateway_partner_breaker_state",
            "Circuit breaker state per partner: 0 closed, 1 half-open, 2 open.",
            ["partner"],
            registry=registry,
        )
        self._in_flight = Gauge(
            "gateway_partner_in_flight",
            "Calls in flight per partner.",
            ["partner"],
            registry=registry,
        )
        # Each labelled series once looked up (partners, operations and outcomes are
        # few): a call then updates its five series without finding them by label.
        self._series: dict[tuple[object, ...], Any] = {}

    def _of(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = metric.labels(*labels)
        return series

    def _stats(self, partner: str, operation: str) -> OperationStats:
        return self.operations.setdefault((partner, operation), OperationStats())

    def record(
        self,
        partner: str,
        operation: str,
        seconds: float,
        *,
        ok: bool,
        error: str | None = None,
        cause: str | None = None,
    ) -> None:
        """One call's outcome; ``error`` is the problem slug and ``cause`` the partner
        error's detail (built by the adapters from the transport or status, never from
        a person's data)."""
        stats = self._stats(partner, operation)
        ms = seconds * 1000
        now = datetime.now(UTC)
        if ok:
            stats.successes += 1
            stats.last_success_at = now
        else:
            stats.failures += 1
            stats.last_failure_at = now
            stats.last_error = error
            stats.last_error_cause = cause
        stats.latency_total_ms += ms
        stats.latency_min_ms = ms if stats.latency_min_ms is None else min(stats.latency_min_ms, ms)
        stats.latency_max_ms = ms if stats.latency_max_ms is None else max(stats.latency_max_ms, ms)
        self._of(self._calls, partner, operation, "ok" if ok else (error or "error")).inc()
        self._of(self._latency, partner, operation).observe(seconds)

    def record_rejected(self, partner: str, operation: str) -> None:
        self._stats(partner, operation).rejected += 1
        self._of(self._calls, partner, operation, "circuit-open").inc()

    def set_breaker(self, partner: str, state: str) -> None:
        self.breakers[partner] = state
        self._of(self._breaker, partner).set(BREAKER_CODES[state])

    def set_in_flight(self, partner: str, count: int) -> None:
        self.in_flight[partner] = count
        self.max_in_flight[partner] = max(self.max_in_flight.get(partner, 0), count)
        self._of(self._in_flight, partner).set(count)

    def report(self) -> dict[str, Any]:
        partners: dict[str, Any] = {}
        for name, state in self.breakers.items():
            partners[name] = {
                "breaker": state,
                "in_flight": self.in_flight.get(name, 0),
                "max_in_flight": self.max_in_flight.get(name, 0),
                "operations": {
                    op: stats.as_dict()
                    for (partner, op), stats in sorted(self.operations.items())
                    if partner == name
                },
            }
        return partners
