"""The answers of the operational endpoints (health, readiness, problem types, the
partners' health) as the OpenAPI contract describes them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    """Each check (``status`` ok or fail, with details) and each partner's breaker."""

    status: str
    checks: dict[str, dict[str, Any]]
    partners: dict[str, dict[str, str]]


class ProblemTypeDescription(BaseModel):
    type: str
    title: str
    status: int
    description: str


class PartnerHealth(BaseModel):
    """One partner as operators see it: ``address`` is the base URL the gateway calls
    (``GATEWAY_PARTNERS__<PARTNER>__BASE_URL``); each operation's ``last_error`` is a
    problem slug and ``last_error_cause`` what failed (``connection refused``, ``HTTP 503``,
    ``answer lacks ...``), never data of a person."""

    model_config = ConfigDict(extra="allow")

    breaker: str
    address: str | None = None
    in_flight: int
    max_in_flight: int
    operations: dict[str, dict[str, Any]]


class PartnersHealth(BaseModel):
    partners: dict[str, PartnerHealth]
