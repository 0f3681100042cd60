"""Typed partner errors, translated from each protocol at the adapter boundary.

    PartnerError                       (partner, operation)
    ├── PartnerNotFound                the partner has no such record            404
    ├── PartnerInvalidInput            the partner rejected our input            422
    ├── PartnerRefused                 credentials, expired password, quota      502/503
    ├── PartnerUnavailable   transient 5xx, SOAP server fault, connection error  503
    ├── PartnerTimeout       transient no answer within the read timeout         504
    ├── PartnerMalformed     transient an answer we cannot parse (cut, not XML)   502
    │   └── PartnerContractMismatch      a readable answer that breaks the contract  502
    └── CircuitOpen                    failing fast while the breaker is open    503

Only transient errors are retried, and only for idempotent operations; only transient
errors count against a partner's circuit breaker. A body cut short in transit is
transient; a complete answer that breaks the contract (a required element missing, an
unknown result code) is permanent: asking again gets the same answer. Messages never
carry a personal identifier or a payload.
"""

from __future__ import annotations

from gateway.core.i18n import N_, Text
from gateway.core.problems import PROBLEM_CLASSES, ProblemError


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


class PartnerContractMismatch(PartnerMalformed):
    """A well-formed answer that does not follow the partner's published contract.

    Permanent: not retried, and not counted as a partner failure by the breaker (the
    partner answered; this answer is what it is)."""

    transient = False


class CircuitOpen(PartnerError):
    slug = "partner-circuit-open"
    status = 503

    def __init__(self, partner: str, operation: str, retry_after: int) -> None:
        super().__init__(partner, operation, N_("circuit breaker open: failing fast"))
        self.retry_after = retry_after


class BulkheadFull(PartnerError):
    slug = "partner-busy"
    status = 503

    def __init__(self, partner: str, operation: str) -> None:
        super().__init__(partner, operation, N_("too many calls in flight to this partner"))
        self.retry_after = 1


def problem_for(exc: PartnerError) -> ProblemError:
    """The problem document a caller gets for a partner's error: same slug and status,
    the partner named, ``Retry-After`` kept when the partner gave one. The cause is the
    adapter's text (a protocol code, ``HTTP 503``), translated when the catalog holds it."""
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return PROBLEM_CLASSES[exc.slug](
        Text(
            "{partner} {operation}: {cause}",
            partner=exc.partner,
            operation=exc.operation,
            cause=Text(exc.detail),
        ),
        extra={"partner": exc.partner},
        headers=headers,
    )
