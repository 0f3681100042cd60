"""One audited call: authorise by catalog, check consent, call the partner, project, audit.

Every consumer endpoint of every feature runs inside ``audited_call()``; it is the
per-request unit of the gateway (a periodic batch *exchange* is ``gateway.exchanges``).

Every call (allowed, denied or failed) leaves exactly one audit event, durable before
the answer is sent: no personal data leaves unless its event is stored. A call that
also changes gateway state (an account opening completes its idempotency record) writes
its event in the request's transaction, committing with that change. Look-ups and
refusals go through the group-commit writer, which makes each caller wait for the commit
holding its event.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import AuditEvent
from audit.store import append
from audit.writer import GroupCommitWriter
from gateway.auth.dependencies import Principal, require_purpose
from gateway.catalog.models import Catalog, PurposeGrant, Service
from gateway.core.db import transaction
from gateway.core.i18n import Text
from gateway.core.problems import (
    ConsentRequired,
    ProblemError,
    PurposeNotAllowed,
    RoleNotGranted,
)
from gateway.core.pseudonyms import Pseudonymizer
from gateway.core.web import Components
from gateway.idempotency.service import IdempotencyService
from gateway.identifiers import IdentifierError, parse_document
from gateway.partners.errors import PartnerError, problem_for
from gateway.partners.registry import PartnerRegistry

P = TypeVar("P")


class ConsentCheck(Protocol):
    """What an audited call asks of the consent register (``gateway.consent``, wired by
    ``gateway.state``): subjects are pseudonyms, ``data_category`` None means any."""

    async def active(
        self,
        session: AsyncSession,
        subject_refs: Sequence[str],
        purpose: str,
        data_category: str | None,
    ) -> bool:
        """Whether an active, unexpired consent covers the purpose for these subjects."""
        ...

    async def covered(
        self,
        session: AsyncSession,
        subject_refs: Sequence[str],
        purpose: str,
        data_category: str | None,
    ) -> set[str]:
        """Which of these subjects an active, unexpired consent covers."""
        ...


def digest(body: Any) -> tuple[str, int]:
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest(), len(encoded)


def project(record: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Only the fields the purpose allows; anything else never leaves the gateway."""
    return {name: record[name] for name in fields if name in record}


class EncodedJSONResponse(JSONResponse):
    """A JSON response whose body was already serialised (bytes pass through)."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


@dataclass
class AuditedCall:
    """The call in progress: what the catalog granted, whose data, the audit event.

    Its consent checks open a short read transaction each (``# this
    call's read``) rather than take a session: the look-up hot path has no request
    session (its event goes through the group-commit writer, not a request
    transaction), and holding a pooled connection for the whole call, partner wait
    included, would cap concurrent look-ups at the pool size."""

    state: Components
    principal: Principal
    service_id: str
    service: Service
    purpose: str
    event: AuditEvent
    grant: PurposeGrant | None = None
    status: int = 200
    # True when the call also changes gateway state in the request's transaction;
    # its event then commits with that change instead of through the group writer.
    shares_transaction: bool = False
    _subjects: list[str] = field(default_factory=list)

    def port(self, port: type[P]) -> P:
        return self.state.get(PartnerRegistry).get(port)

    @property
    def needs_consent(self) -> bool:
        assert self.grant is not None
        return self.state.get(Catalog).legal_bases[self.grant.legal_basis].requires_consent

    def subject(self, kind: str, number: str) -> None:
        """Record whose data this call is about (as a pseudonym, for the audit)."""
        if self.needs_consent:
            raise RuntimeError(
                f"{self.service_id} rests on consent: name subjects with check_consent()"
            )
        self._subjects.append(self.state.get(Pseudonymizer).of(kind, number))

    async def staged(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records staged by a periodic exchange, as this call may disclose them: each
        one's subjects are recorded, and when the purpose rests on consent only the
        records whose child or caregiver still has an active consent are kept (checked
        now, so a revocation after staging applies too)."""
        refs = [self.state.get(Pseudonymizer).of_record(r) for r in rows]
        if self.needs_consent:
            every = sorted({ref for subject in refs for ref in subject})
            async with transaction(self.state.sessions) as session:  # this call's read
                covered = await self.state.get(ConsentCheck).covered(
                    session, every, self.purpose, self.service.data_category
                )
            kept = [i for i, subject in enumerate(refs) if covered.intersection(subject)]
            rows, refs = [rows[i] for i in kept], [refs[i] for i in kept]
        for subject in refs:
            self._subjects.extend(subject)
        return rows

    async def check_consent(self, kind: str, number: str) -> None:
        """Record the subject and, when the purpose rests on consent, refuse unless an
        active consent covers this purpose and data category. Checked on every call, so
        a revocation takes effect on the next one."""
        ref = self.state.get(Pseudonymizer).of(kind, number)
        self._subjects.append(ref)
        if self.needs_consent and not await self._consented(ref):
            raise ConsentRequired(
                Text(
                    "no active consent covers purpose '{purpose}' for {category} data of "
                    "this {kind}",
                    purpose=self.purpose,
                    category=self.service.data_category,
                    kind=kind.upper(),
                ),
                extra={
                    "missing_consent": {
                        "purpose": self.purpose,
                        "data_category": self.service.data_category,
                        "subject": kind,
                    }
                },
            )

    async def _consented(self, ref: str) -> bool:
        async with transaction(self.state.sessions) as session:  # this call's read
            return await self.state.get(ConsentCheck).active(
                session, [ref], self.purpose, self.service.data_category
            )

    async def check_consent_each(self, kind: str, numbers: Sequence[str]) -> list[bool]:
        """For a batch: which of these subjects this call may disclose (all, unless the
        purpose rests on consent: then those an active consent covers now). Only those
        are recorded as the event's subjects."""
        refs = [self.state.get(Pseudonymizer).of(kind, number) for number in numbers]
        if self.needs_consent:
            async with transaction(self.state.sessions) as session:  # this call's read
                covered = await self.state.get(ConsentCheck).covered(
                    session, sorted(set(refs)), self.purpose, self.service.data_category
                )
            allowed = [ref in covered for ref in refs]
        else:
            allowed = [True] * len(refs)
        self._subjects.extend(ref for ref, ok in zip(refs, allowed, strict=True) if ok)
        return allowed

    async def replay_or_claim(self, key: str, payload: Any) -> JSONResponse | None:
        """For a call that changes state under an Idempotency-Key: the first answer when
        this key was used for this body before (the event says ``replayed``), or None
        when this request now owns the key. The same key with another body is refused."""
        request_digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        client_id = self.principal.client_id
        replay = await self.state.get(IdempotencyService).claim(client_id, key, request_digest)
        if replay is None:
            return None
        self.event.outcome = "replayed"
        self.respond(replay.body["data"])
        self.status = replay.status
        return JSONResponse(replay.body, status_code=replay.status)

    @asynccontextmanager
    async def releasing(self, key: str) -> AsyncIterator[None]:
        """Give the claimed key back if the work inside fails, so a retry can redo it."""
        try:
            yield
        except BaseException:
            await self.state.get(IdempotencyService).release(self.principal.client_id, key)
            raise

    async def complete(
        self, session: AsyncSession, key: str, status: int, answer: dict[str, Any]
    ) -> None:
        """Keep the answer under the key, in the request's transaction."""
        await self.state.get(IdempotencyService).complete(
            session, self.principal.client_id, key, status, answer
        )

    def partner_request_id(self, key: str, *scope: str) -> str:
        """The id a partner deduplicates on, derived from the caller and its key: a retry
        or a crash-and-repeat under the same key changes nothing at the partner."""
        parts = (self.principal.client_id, *scope, key)
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]

    @property
    def fields(self) -> list[str]:
        assert self.grant is not None
        return list(self.grant.fields)

    def _envelope(self, data: Any, status: int, extra: dict[str, Any]) -> dict[str, Any]:
        assert self.grant is not None
        self.status = status
        return {
            "service": self.service_id,
            "purpose": self.purpose,
            "legal_basis": self.grant.legal_basis,
            **extra,
            "data": data,
        }

    def respond(self, data: Any, *, status: int = 200, **extra: Any) -> dict[str, Any]:
        """The answer envelope; ``data`` must already be projected."""
        body = self._envelope(data, status, extra)
        self.event.response_digest, self.event.response_bytes = digest(body)
        return body

    def answer(self, data: Any, **extra: Any) -> JSONResponse:
        """The envelope as the response itself: it is already projected and shaped, so
        the framework need not validate and serialise it a second time. It is
        serialised once, to the bytes ``JSONResponse`` would write (UTF-8, compact), and
        the audit event's digest and size are those of the bytes sent."""
        encoded = orjson.dumps(self._envelope(data, 200, extra))
        self.event.response_digest = hashlib.sha256(encoded).hexdigest()
        self.event.response_bytes = len(encoded)
        return EncodedJSONResponse(encoded)


def _authorize(
    state: Components, principal: Principal, service_id: str, purpose: str
) -> tuple[Service, PurposeGrant]:
    service = state.get(Catalog).services[service_id]
    if not principal.roles & set(service.roles):
        raise RoleNotGranted(
            Text("this service requires one of the roles: {roles}", roles=", ".join(service.roles)),
            extra={"required_roles": list(service.roles)},
        )
    require_purpose(principal, purpose)
    grant = service.purposes.get(purpose)
    if grant is None:
        raise PurposeNotAllowed(
            Text(
                "the catalog does not allow {service} for purpose '{purpose}'",
                service=service_id,
                purpose=purpose,
            ),
            extra={"purpose": purpose, "allowed_purposes": sorted(service.purposes)},
        )
    return service, grant


@dataclass(frozen=True)
class Call:
    """Who calls, for what, on whose behalf: the part every consumer request shares."""

    request: Request
    state: Components
    principal: Principal
    purpose: str
    user_id: str | None


@asynccontextmanager
async def audited_call(
    call: Call,
    service_id: str,
    *,
    session: AsyncSession | None = None,
    request_body: Any = None,
    subject: tuple[str, str] | None = None,
) -> AsyncIterator[AuditedCall]:
    """Run one call of catalog service ``service_id`` and leave its audit event.

    ``session``: the request's transaction, for calls that also change state.
    ``subject``: the person the address names (``("dni", path value)``), so that a call
    refused before the operation names it (role, purpose) is still found by that person
    in the audit: recorded as a pseudonym when the value is a document number, and only
    when the call was refused before any subject was recorded."""
    request, state, principal = call.request, call.state, call.principal
    purpose, user_id = call.purpose, call.user_id
    started = time.perf_counter()
    service = state.get(Catalog).services[service_id]
    event = AuditEvent(
        request_id=getattr(request.state, "request_id", ""),
        client_id=principal.client_id,
        user_id=user_id,
        roles=sorted(principal.roles),
        service=service_id,
        purpose=purpose,
        partner=service.partner,
        operation=service.operation,
    )
    if request_body is not None:
        event.request_digest, event.request_bytes = digest(request_body)
    audited = AuditedCall(state, principal, service_id, service, purpose, event)
    event.subjects = audited._subjects
    try:
        _, audited.grant = _authorize(state, principal, service_id, purpose)
        event.legal_basis = audited.grant.legal_basis
        yield audited
    except ProblemError as exc:
        if subject is not None and not audited._subjects:
            _name_refused_subject(audited, *subject)
        denied = exc.problem.status == 403
        event.decision = "denied" if denied else "allowed"
        event.outcome = "denied" if denied else exc.problem.slug
        event.reason = exc.problem.slug
        await _record_failure(state, event, exc.problem.status, started)
        raise
    except PartnerError as exc:
        problem = problem_for(exc)
        event.outcome = exc.slug
        event.reason = exc.slug
        await _record_failure(state, event, problem.problem.status, started)
        raise problem from None
    except Exception:
        event.outcome = "error"
        await _record_failure(state, event, 500, started)
        raise
    else:
        event.fields = audited.fields
        event.status = audited.status
        event.latency_ms = round((time.perf_counter() - started) * 1000, 3)
        if audited.shares_transaction:
            assert session is not None, "a call that changes state needs the session"
            await append(session, event)
        else:
            await state.get(GroupCommitWriter).write(event)


def _name_refused_subject(audited: AuditedCall, kind: str, value: str) -> None:
    try:
        number, _ = parse_document(value)
    except IdentifierError:
        return  # not a document number: nobody to name
    audited._subjects.append(audited.state.get(Pseudonymizer).of(kind, number))


async def _record_failure(
    state: Components, event: AuditEvent, status: int, started: float
) -> None:
    event.status = status
    event.fields = []
    event.response_digest, event.response_bytes = None, 0
    event.latency_ms = round((time.perf_counter() - started) * 1000, 3)
    await state.get(GroupCommitWriter).write(event)
