"""Console accounts: creation, passwords (Argon2id), lockout, sessions, and the audit
events that record each of them.

Passwords are hashed with Argon2id (``argon2-cffi``'s defaults: RFC 9106's second
recommended profile, 64 MiB, 3 passes) and verified in a worker thread, so a sign-in
does not stall the event loop for the tens of milliseconds a hash takes.

Sign-in refusals are deliberately alike. An unknown username, a wrong password, a
disabled account and a locked account get the same answer, and an unknown username is
verified against a dummy hash so that it takes as long as a known one: telling them apart
would let anyone probe which usernames exist (a username is often a person's name) and
which accounts are worth guessing at. A locked account is therefore not told that it is
locked; the sign-in page always says that repeated failures lock an account for a while,
which is all a legitimate person needs to know to wait. The audit events (not the
person at the keyboard) say which case it was.

Sessions: the browser carries a random 256-bit token; the table keeps its SHA-256 only.
A session ends after ``GATEWAY_CONSOLE__IDLE_TIMEOUT_SECONDS`` without a request, after
``GATEWAY_CONSOLE__ABSOLUTE_TIMEOUT_SECONDS`` in any case, at sign-out, and when its
account is disabled or its password reset.

Errors: :class:`AccountError` (a field and an English message id, translated by the
caller) for invalid or conflicting input, :class:`AccountNotFound` for an unknown
username. Nothing here commits.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.ext.asyncio import AsyncSession

from audit.events import AuditEvent
from audit.store import append
from gateway.console.models import ConsoleAccount, ConsoleSession
from gateway.console.repository import ConsoleRepository
from gateway.settings import ConsoleSettings

ROLES = ("operator", "auditor", "partner-agent", "admin")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 12

_hasher = PasswordHasher()  # Argon2id

SignInOutcome = Literal["ok", "unknown-user", "wrong-password", "locked", "locked-now", "disabled"]


def _(message: str) -> str:
    """Marks a message id for the catalogs; the caller translates it."""
    return message


class AccountError(Exception):
    """Input refused: ``field`` names the option, ``message`` is an English message id
    with ``{name}`` placeholders filled from ``params``."""

    def __init__(self, field: str, message: str, **params: str) -> None:
        super().__init__(message.format(**params))
        self.field = field
        self.message = message
        self.params = params


class AccountNotFound(AccountError):
    def __init__(self) -> None:
        super().__init__("username", _("no console user with this username"))


@dataclass(frozen=True)
class Actor:
    """Who makes a change to an account, for the audit event: a person in the console
    (``client_id="console"``) or an operator at the command line (``client_id=None``)."""

    user_id: str
    roles: tuple[str, ...] = ()
    client_id: str | None = None
    request_id: str = field(default_factory=lambda: f"cli:{uuid.uuid4()}")


def current_request_id() -> str:
    """The request id the request middleware bound to the logging context (a new one
    outside a request)."""
    bound = structlog.contextvars.get_contextvars().get("request_id")
    return str(bound) if bound else str(uuid.uuid4())


async def audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    outcome: str = "ok",
    subjects: Sequence[str] = (),
    detail: dict[str, Any] | None = None,
    status: int | None = None,
) -> None:
    """Append one audit event ``console.<action>`` naming the person, in the caller's
    transaction (the same hash chain as every other event: ``audit.store.append``).

    ``status``: the HTTP status the person was answered; by default 200 for ``ok`` and
    ``replayed`` (the same file again, answered with its first receipt), else 403. As
    for API calls (``gateway.calls.audited``), the decision is ``denied`` only for 401
    and 403: an upload refused for its content (400, 413, 415, 422) was allowed and
    failed."""
    if status is None:
        status = 200 if outcome in ("ok", "replayed") else 403
    await append(
        session,
        AuditEvent(
            request_id=actor.request_id,
            client_id=actor.client_id,
            user_id=actor.user_id[:64] if actor.user_id else None,
            roles=sorted(actor.roles),
            service=f"console.{action}"[:64],
            purpose=None,
            decision="denied" if status in (401, 403) else "allowed",
            outcome=outcome,
            operation=action,
            subjects=list(subjects),
            reason=(
                json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)
                if detail
                else None
            ),
            status=status,
        ),
    )


def new_password() -> str:
    """A random password to hand over once: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            "password", _("a password needs at least {n} characters"), n=str(MIN_PASSWORD)
        )


def validate(
    username: str, roles: Collection[str], partner: str | None, partners: Collection[str]
) -> None:
    """Refuse a malformed username, unknown roles, and a partner agent without a known
    partner (or a partner given to someone who is not a partner agent)."""
    if not USERNAME.match(username):
        raise AccountError(
            "username",
            _("a username is 2 to 64 lowercase letters, digits, dots, dashes or underscores"),
        )
    if not roles:
        raise AccountError("role", _("a console user needs at least one role"))
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise AccountError(
            "role",
            _("unknown role {role}; roles are {roles}"),
            role=", ".join(unknown),
            roles=", ".join(ROLES),
        )
    if "partner-agent" in roles:
        if not partner:
            raise AccountError("partner", _("a partner agent needs --partner"))
        if partner not in partners:
            raise AccountError(
                "partner",
                _("unknown partner {partner}; partners are {partners}"),
                partner=partner,
                partners=", ".join(sorted(partners)),
            )
    elif partner:
        raise AccountError("partner", _("only a partner agent acts for a partner"))


async def create_account(
    session: AsyncSession,
    username: str,
    roles: Sequence[str],
    *,
    actor: Actor,
    partners: Collection[str],
    display_name: str | None = None,
    partner: str | None = None,
    password: str | None = None,
) -> tuple[ConsoleAccount, str]:
    """Add a console user; returns the account and its password (``password`` if
    given, else a generated one to show once)."""
    validate(username, roles, partner, partners)
    repository = ConsoleRepository(session)
    if await repository.account(username) is not None:
        raise AccountError(
            "username", _("a console user named {username} exists already"), username=username
        )
    chosen = password if password is not None else new_password()
    check_password(chosen)
    now = datetime.now(UTC)
    account = ConsoleAccount(
        username=username,
        display_name=(display_name or username)[:200],
        roles=sorted(set(roles), key=ROLES.index),
        partner=partner,
        password_hash=await hash_password(chosen),
        disabled=False,
        failed_attempts=0,
        locked_until=None,
        created_at=now,
        password_changed_at=now,
    )
    await repository.add_account(account)
    await audit(
        session,
        actor,
        "user-create",
        subjects=[f"console-user:{username}"],
        detail={"roles": account.roles, "partner": partner},
    )
    return account, chosen


async def _existing(repository: ConsoleRepository, username: str) -> ConsoleAccount:
    account = await repository.account(username)
    if account is None:
        raise AccountNotFound()
    return account


async def disable_account(session: AsyncSession, username: str, *, actor: Actor) -> None:
    """Disable an account and end its open sessions at once."""
    repository = ConsoleRepository(session)
    account = await _existing(repository, username)
    account.disabled = True
    await repository.save()
    await repository.delete_sessions_of(username)
    await audit(session, actor, "user-disable", subjects=[f"console-user:{username}"])


async def reset_password(
    session: AsyncSession, username: str, *, actor: Actor, password: str | None = None
) -> str:
    """A new password (given or generated, returned to show once); ends the account's
    sessions and lifts a lockout. A disabled account stays disabled."""
    repository = ConsoleRepository(session)
    account = await _existing(repository, username)
    chosen = password if password is not None else new_password()
    check_password(chosen)
    account.password_hash = await hash_password(chosen)
    account.password_changed_at = datetime.now(UTC)
    account.failed_attempts = 0
    account.locked_until = None
    await repository.save()
    await repository.delete_sessions_of(username)
    await audit(session, actor, "user-reset-password", subjects=[f"console-user:{username}"])
    return chosen


async def accounts(session: AsyncSession) -> Sequence[ConsoleAccount]:
    return await ConsoleRepository(session).accounts()


async def count_accounts(session: AsyncSession) -> int:
    return await ConsoleRepository(session).count_accounts()


@dataclass(frozen=True)
class SignIn:
    """The result of a sign-in attempt: ``account`` is set only when ``outcome`` is
    ``ok``; ``known`` says whether the username named an account (for the audit)."""

    outcome: SignInOutcome
    account: ConsoleAccount | None = None
    known: bool = False


async def sign_in(
    session: AsyncSession, username: str, password: str, policy: ConsoleSettings
) -> SignIn:
    """Check a username and password, counting failures and locking the account after
    ``policy.lockout_attempts`` in a row. Every path verifies one Argon2 hash."""
    repository = ConsoleRepository(session)
    account = await repository.account(username) if USERNAME.match(username) else None
    if account is None:
        await asyncio.to_thread(_verify, _dummy_hash(), password)
        return SignIn("unknown-user")
    matches = await asyncio.to_thread(_verify, account.password_hash, password)
    now = datetime.now(UTC)
    if account.disabled:
        return SignIn("disabled", known=True)
    if account.locked_until is not None and account.locked_until > now:
        return SignIn("locked", known=True)
    if not matches:
        account.failed_attempts += 1
        outcome: SignInOutcome = "wrong-password"
        if account.failed_attempts >= policy.lockout_attempts:
            account.locked_until = now + timedelta(seconds=policy.lockout_seconds)
            account.failed_attempts = 0
            outcome = "locked-now"
        await repository.save()
        return SignIn(outcome, known=True)
    account.failed_attempts = 0
    account.locked_until = None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = await hash_password(password)
    await repository.save()
    return SignIn("ok", account, known=True)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class OpenedSession:
    token: str  # for the cookie only; never stored
    csrf_token: str


async def open_session(
    session: AsyncSession, account: ConsoleAccount, policy: ConsoleSettings
) -> OpenedSession:
    """A new session for ``account`` (its own expired sessions are dropped)."""
    repository = ConsoleRepository(session)
    now = datetime.now(UTC)
    await repository.delete_sessions_before(
        account.username,
        now - timedelta(seconds=policy.idle_timeout_seconds),
        now - timedelta(seconds=policy.absolute_timeout_seconds),
    )
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await repository.add_session(
        ConsoleSession(
            token_hash=token_hash(token),
            username=account.username,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
        )
    )
    return OpenedSession(token, csrf)


@dataclass(frozen=True)
class Resumed:
    """A session found for a token: ``expired`` names the timeout that ended it
    (``idle`` or ``absolute``), None while it is live (then it was just touched)."""

    row: ConsoleSession
    account: ConsoleAccount
    expired: Literal["idle", "absolute"] | None = None


async def resume_session(
    session: AsyncSession, token: str, policy: ConsoleSettings
) -> Resumed | None:
    """The live or expired session of ``token``, or None when there is none (or its
    account is disabled)."""
    repository = ConsoleRepository(session)
    found = await repository.session_with_account(token_hash(token))
    if found is None or found[1].disabled:
        return None
    row, account = found
    now = datetime.now(UTC)
    if now - row.created_at > timedelta(seconds=policy.absolute_timeout_seconds):
        return Resumed(row, account, "absolute")
    if now - row.last_seen_at > timedelta(seconds=policy.idle_timeout_seconds):
        return Resumed(row, account, "idle")
    await repository.touch_session(row.token_hash, now)
    return Resumed(row, account)


async def close_session(session: AsyncSession, token: str) -> None:
    await ConsoleRepository(session).delete_session(token_hash(token))


async def external_account(
    session: AsyncSession,
    username: str,
    roles: Sequence[str],
    *,
    display_name: str,
    partner: str | None,
    partners: Collection[str],
) -> ConsoleAccount | None:
    """The account of a person the identity provider vouched for, created on first
    sign-in or brought up to date (roles, partner, name as the provider says now). Its
    password is a random one nobody knows: such a person signs in only through the
    provider, unless an administrator sets a password. None when the account is
    disabled here. Raises :class:`AccountError` for a username, roles or partner this
    console cannot take."""
    validate(username, roles, partner, partners)
    repository = ConsoleRepository(session)
    account = await repository.account(username)
    ordered = sorted(set(roles), key=ROLES.index)
    if account is None:
        now = datetime.now(UTC)
        account = ConsoleAccount(
            username=username,
            display_name=display_name[:200] or username,
            roles=ordered,
            partner=partner,
            password_hash=await hash_password(secrets.token_urlsafe(32)),
            disabled=False,
            failed_attempts=0,
            locked_until=None,
            created_at=now,
            password_changed_at=now,
        )
        await repository.add_account(account)
        return account
    if account.disabled:
        return None
    account.roles = ordered
    account.partner = partner
    account.display_name = display_name[:200] or username
    await repository.save()
    return account
