"""The gateway's problem types (RFC 9457): one class per ``type``, the catalog built from them.

Each class names one problem type by its ``slug`` (the type URI is ``/problems/<slug>``),
the HTTP ``status`` it is answered with, its ``title`` and a ``description`` for the
catalog served at ``GET /problems/{slug}`` and written into the contract. Raising one
answers it; a mistyped name fails at import, never as a 500 at run time::

    ProblemError
    ├── BadRequest                 400 bad-request (body not JSON, not UTF-8)
    ├── InvalidToken               401 invalid-token
    ├── RoleNotGranted             403 role-not-granted
    ├── PurposeNotGranted          403 purpose-not-granted
    ├── PurposeNotAllowed          403 purpose-not-allowed
    ├── ConsentRequired            403 consent-required
    ├── NotFound                   404 not-found
    ├── PartnerNotFound            404 partner-not-found
    ├── MethodNotAllowed           405 method-not-allowed
    ├── Conflict                   409 conflict
    ├── ConsentAlreadyRevoked      409 consent-already-revoked
    ├── MessageIdReused            409 message-id-reused
    ├── MessageInProgress          409 message-in-progress
    ├── IdempotencyInProgress      409 idempotency-in-progress
    ├── LastActiveAdmin            409 last-active-admin
    ├── PayloadTooLarge            413 payload-too-large
    ├── UnsupportedMediaType       415 unsupported-media-type
    ├── IdempotencyKeyReused       422 idempotency-key-reused
    ├── PartnerInvalidInput        422 partner-invalid-input
    ├── ValidationFailed           422 validation-error
    ├── RateLimited                429 rate-limited
    ├── InternalError              500 internal-error
    ├── PartnerRefused             502 partner-refused
    ├── PartnerMalformedResponse   502 partner-malformed-response
    ├── NotReady                   503 not-ready
    ├── PartnerUnavailable         503 partner-unavailable
    ├── PartnerCircuitOpen         503 partner-circuit-open
    ├── PartnerBusy                503 partner-busy
    └── PartnerTimeout             504 partner-timeout

Titles, descriptions and details are English message ids of the ``problems`` catalog
(``gateway/locale/<locale>/LC_MESSAGES/problems.po``); ``gateway.core.errors`` answers
them in the language ``Accept-Language`` asks for, Spanish by default.

The status belongs to the problem type (RFC 9457 §3.1.1 ties a type to the status it is
answered with); which success status an operation answers is the route's choice.

The token endpoint is the one exception: it answers RFC 6749 §5.2 ``application/json``
error documents (``gateway.auth.oauth``), which OAuth client libraries parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from gateway.core.i18n import N_, Text


@dataclass(frozen=True)
class ProblemType:
    """One entry of the problem catalog: what ``GET /problems/{slug}`` describes."""

    slug: str
    title: str
    status: int
    description: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.slug}"


class ProblemError(Exception):
    """An error the gateway answers with a problem document of this class's type.

    ``detail`` is the human explanation of this occurrence (never a personal identifier),
    a ``Text`` (or an ``N_``-marked ``str``) translated into the reader's language when the
    problem is answered; ``title`` and ``description`` are ``N_``-marked English ids;
    ``extra`` adds members to the document (``errors``, ``missing_consent``, ``checks``);
    ``headers`` adds response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    slug: ClassVar[str]
    status: ClassVar[int]
    title: ClassVar[str]
    description: ClassVar[str]

    def __init__(
        self,
        detail: str | Text,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(str(detail))
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}

    @classmethod
    def type(cls) -> ProblemType:
        return ProblemType(cls.slug, cls.title, cls.status, cls.description)

    @property
    def problem(self) -> ProblemType:
        return self.type()


class BadRequest(ProblemError):
    slug = "bad-request"
    status = 400
    title = N_("Bad request")
    description = N_("The request cannot be understood.")


class InvalidToken(ProblemError):
    slug = "invalid-token"
    status = 401
    title = N_("Invalid or missing bearer token")
    description = N_(
        "Send `Authorization: Bearer <token>` with a current token from POST /v1/token."
    )


class RoleNotGranted(ProblemError):
    slug = "role-not-granted"
    status = 403
    title = N_("Role not granted")
    description = N_("The client holds none of the roles this operation requires.")


class PurposeNotGranted(ProblemError):
    slug = "purpose-not-granted"
    status = 403
    title = N_("Purpose not granted")
    description = N_(
        "The client is not registered for the purpose it declared, or its token was not "
        "issued for it."
    )


class PurposeNotAllowed(ProblemError):
    slug = "purpose-not-allowed"
    status = 403
    title = N_("Purpose not allowed for this service")
    description = N_("The catalog does not allow this service for the declared purpose.")


class ConsentRequired(ProblemError):
    slug = "consent-required"
    status = 403
    title = N_("Active consent required")
    description = N_(
        "The purpose rests on the caregiver's consent and no active consent covers it; "
        "`missing_consent` names the purpose and data category."
    )


class ConsentAlreadyRevoked(ProblemError):
    slug = "consent-already-revoked"
    status = 409
    title = N_("Consent already revoked")
    description = N_("The consent was revoked before; a revocation cannot be repeated.")


class NotFound(ProblemError):
    slug = "not-found"
    status = 404
    title = N_("Not found")
    description = N_("No resource at this address.")


class MessageIdReused(ProblemError):
    slug = "message-id-reused"
    status = 409
    title = N_("Message id reused")
    description = N_(
        "This message id was received before with a different body; send new content "
        "under a new id."
    )


class MessageInProgress(ProblemError):
    slug = "message-in-progress"
    status = 409
    title = N_("Message being received")
    description = N_("A message with this id is being received; retry after Retry-After.")


class PayloadTooLarge(ProblemError):
    slug = "payload-too-large"
    status = 413
    title = N_("Payload too large")
    description = N_("The body exceeds the limit of this operation; nothing of it was stored.")


class UnsupportedMediaType(ProblemError):
    slug = "unsupported-media-type"
    status = 415
    title = N_("Unsupported media type")
    description = N_("The body's Content-Type is not one this operation accepts.")


class PartnerNotFound(ProblemError):
    slug = "partner-not-found"
    status = 404
    title = N_("Not found at the partner")
    description = N_("The partner agency holds no record for this request.")


class IdempotencyInProgress(ProblemError):
    slug = "idempotency-in-progress"
    status = 409
    title = N_("Request in progress")
    description = N_(
        "A request with this Idempotency-Key is being handled; retry after Retry-After."
    )


class IdempotencyKeyReused(ProblemError):
    slug = "idempotency-key-reused"
    status = 422
    title = N_("Idempotency-Key reused")
    description = N_("The Idempotency-Key was first used with a different request body.")


class PartnerInvalidInput(ProblemError):
    slug = "partner-invalid-input"
    status = 422
    title = N_("Refused by the partner as invalid")
    description = N_("The partner agency rejected the request's data.")


class PartnerRefused(ProblemError):
    slug = "partner-refused"
    status = 502
    title = N_("Refused by the partner")
    description = N_(
        "The partner refused the gateway (credentials, password, quota); operators are told."
    )


class PartnerMalformedResponse(ProblemError):
    slug = "partner-malformed-response"
    status = 502
    title = N_("Unreadable partner answer")
    description = N_("The partner answered with something that does not follow its contract.")


class PartnerUnavailable(ProblemError):
    slug = "partner-unavailable"
    status = 503
    title = N_("Partner unavailable")
    description = N_("The partner agency is not answering correctly; retry later.")


class RateLimited(ProblemError):
    slug = "rate-limited"
    status = 429
    title = N_("Too many requests")
    description = N_(
        "This client used its quota of requests for the current minute, counted across "
        "every gateway process; retry after Retry-After."
    )


class PartnerCircuitOpen(ProblemError):
    slug = "partner-circuit-open"
    status = 503
    title = N_("Partner temporarily cut off")
    description = N_(
        "Calls to this partner fail fast after repeated failures; retry after Retry-After."
    )


class PartnerBusy(ProblemError):
    slug = "partner-busy"
    status = 503
    title = N_("Partner busy")
    description = N_("Too many calls are in flight to this partner; retry after Retry-After.")


class PartnerTimeout(ProblemError):
    slug = "partner-timeout"
    status = 504
    title = N_("Partner timeout")
    description = N_("The partner agency did not answer in time.")


class MethodNotAllowed(ProblemError):
    slug = "method-not-allowed"
    status = 405
    title = N_("Method not allowed")
    description = N_("The resource exists but not with this method.")


class Conflict(ProblemError):
    slug = "conflict"
    status = 409
    title = N_("Conflict")
    description = N_("The request conflicts with current state.")


class LastActiveAdmin(ProblemError):
    slug = "last-active-admin"
    status = 409
    title = N_("Last active admin")
    description = N_(
        "The gateway must keep one active client with the admin role; enable or register "
        "another admin first."
    )


class ValidationFailed(ProblemError):
    slug = "validation-error"
    status = 422
    title = N_("Invalid request")
    description = N_("One or more fields failed validation; `errors` lists each one.")


class InternalError(ProblemError):
    slug = "internal-error"
    status = 500
    title = N_("Internal error")
    description = N_("The gateway failed; quote the request id to the operators.")


class NotReady(ProblemError):
    slug = "not-ready"
    status = 503
    title = N_("Not ready")
    description = N_("A dependency of the gateway is unavailable; `checks` says which.")


def _concrete(base: type[ProblemError]) -> list[type[ProblemError]]:
    found: list[type[ProblemError]] = []
    for sub in base.__subclasses__():
        if "slug" in sub.__dict__:
            found.append(sub)
        found.extend(_concrete(sub))
    return found


PROBLEM_CLASSES: dict[str, type[ProblemError]] = {cls.slug: cls for cls in _concrete(ProblemError)}
"""Every problem type by slug, built from the classes above."""

PROBLEM_TYPES: dict[str, ProblemType] = {slug: cls.type() for slug, cls in PROBLEM_CLASSES.items()}
"""The catalog served at ``/problems/{slug}`` and written into the contract."""
