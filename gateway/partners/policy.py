"""The resilience policy every partner's settings carry (timeouts, retries, breaker,
bulkhead).

A plain settings model with no dependency on the guard that applies it, so that each
adapter's settings model (``adapters/<partner>/settings.py``) can extend it and the
gateway's settings can compose those without importing any partner client.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class ResilienceSettings(BaseModel):
    """How the gateway protects itself and a partner from each other (seconds, counts,
    rates in 0..1); read by :class:`gateway.partners.resilience.PartnerGuard`."""

    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    read_timeout_seconds: float = Field(default=5.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_initial_seconds: float = Field(default=0.05, ge=0)
    backoff_max_seconds: float = Field(default=1.0, ge=0)
    breaker_consecutive_failures: int = Field(default=5, ge=1)
    breaker_failure_rate: float = Field(default=0.5, gt=0, le=1)
    breaker_window: int = Field(default=20, ge=1)
    breaker_min_calls: int = Field(default=10, ge=1)
    breaker_cooldown_seconds: float = Field(default=10.0, gt=0)
    max_concurrency: int = Field(default=64, ge=1)
    bulkhead_wait_seconds: float = Field(default=2.0, gt=0)
