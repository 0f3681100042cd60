"""Typed partner errors, translated from each protocol at the adapter boundary.

    PartnerError                       (partner, operation)
    ├── PartnerNotFound                the partner has no such record            404
    ├── PartnerInvalidInput            the partner rejected our input            422
    ├── PartnerRefused                 credentials, expired password, quota      502/503
    ├── PartnerUnavailable   transient 5xx, SOAP server fault, connection error  503
    ├── PartnerTimeout       transient no answer within the read timeout         504
    ├── PartnerMalformed     transient an answer we cannot parse or validate     502
    └── CircuitOpen                    failing fast while the breaker is open    503

Only transient errors are retried, and only for idempotent operations. Messages never
carry a personal identifier or a payload.
"""

from __future__ import annotations


class PartnerError(Exception):
    transient = False
    slug = "partner-error"
    status = 502

    def __init__(self, partner: str, operation: str, detail: str) -> None:
        super().__init__(f"{partner}.{operation}: {detail}")
        self.partner = partner
        self.operation = operation
        self.detail = detail


class PartnerNotFound(PartnerError):
    slug = "partner-not-found"
    status = 404


class PartnerInvalidInput(PartnerError):
    slug = "partner-invalid-input"
    status = 422


class PartnerRefused(PartnerError):
    slug = "partner-refused"
    status = 502

    def __init__(
        self, partner: str, operation: str, detail: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(partner, operation, detail)
        self.retry_after = retry_after
        if retry_after is not None:
            self.status = 503


class PartnerUnavailable(PartnerError):
    transient = True
    slug = "partner-unavailable"
    status = 503


class PartnerTimeout(PartnerError):
    transient = True
    slug = "partner-timeout"
    status = 504


class PartnerMalformed(PartnerError):
    transient = True
    slug = "partner-malformed-response"
    status = 502


class CircuitOpen(PartnerError):
    slug = "partner-circuit-open"
    status = 503

    def __init__(self, partner: str, operation: str, retry_after: int) -> None:
        super().__init__(partner, operation, "circuit breaker open: failing fast")
        self.retry_after = retry_after


class BulkheadFull(PartnerError):
    slug = "partner-busy"
    status = 503

    def __init__(self, partner: str, operation: str) -> None:
        super().__init__(partner, operation, "too many calls in flight to this partner")
        self.retry_after = 1
