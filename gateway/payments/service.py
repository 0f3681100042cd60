"""Payment runs: accept a roll, read a run, and take the statuses the bank pushes.

Never twice: an EndToEndId is the primary key of its item, so a roll cannot repeat one
nor reuse one from any earlier roll; paying is ``gateway.payments.jobs`` (worked by
``gateway.jobs.JobRunner``). Every method works in the caller's session; none commits.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.audited import ConsentCheck
from gateway.core.data_keys import DataKeyring, SealedColumn
from gateway.core.i18n import N_, Text, render
from gateway.core.limits import is_unicode_text, named_key
from gateway.core.problems import NotFound, ValidationFailed
from gateway.core.pseudonyms import Pseudonymizer
from gateway.identifiers import IdentifierError, parse_cci, parse_document
from gateway.jobs.starters import Starter
from gateway.partners.models import PaymentReport
from gateway.partners.ports import Bank
from gateway.partners.registry import PartnerRegistry
from gateway.payments.models import PaymentChunk, PaymentItem
from gateway.payments.ports import ReportIntake
from gateway.payments.repository import PaymentRepository

_E2E = re.compile(r"[A-Za-z0-9-]{1,35}")
# What a refused roll says of a holder without consent (the rejection keeps the slug).
_CONSENT_MISSING = N_("no active consent of the holder for payment with financial data")


def item_aad(row: Any) -> bytes:
    return f"payment_items\x00{row['end_to_end_id']}".encode()


def chunk_aad(row: Any) -> bytes:
    return f"payment_chunks\x00{row['run_id']}\x00{row['chunk_no']}".encode()


SEALED_COLUMNS = [
    SealedColumn("payment_items", PaymentItem.__table__, "sealed", item_aad),  # type: ignore[arg-type]
    SealedColumn("payment_chunks", PaymentChunk.__table__, "document_sealed", chunk_aad),  # type: ignore[arg-type]
]


def intake_reason(reason: str) -> str:
    """The catalog id of a stored intake rejection's ``reason``, rendered where it is
    read: the reasons are stored as catalog ids (English), a holder without consent as
    the problem type's slug ``consent-required``."""
    return _CONSENT_MISSING if reason == "consent-required" else reason


def intake_in_locale(run: dict[str, Any], locale: str) -> dict[str, Any]:
    """A run's view (:meth:`PaymentService.view`) with each intake rejection's
    ``message``: its ``reason`` (the stable code clients key on) in ``locale``, as a
    problem's ``errors[].message`` is."""
    reconciliation = run.get("reconciliation") or {}
    rejections = reconciliation.get("rejected_at_intake")
    if not rejections:
        return run
    worded = [{**r, "message": render(intake_reason(r["reason"]), locale)} for r in rejections]
    return {**run, "reconciliation": {**reconciliation, "rejected_at_intake": worded}}


#: The key, in a run's stored reconciliation, of how many transfers intake rejected.
INTAKE_COUNT = "rejected_at_intake_count"

#: What a transfer of a payment roll holds (``PaymentRunRequest.transfers``).
TRANSFER_FIELDS = frozenset({"end_to_end_id", "dni", "cci", "amount", "name"})


def check_item(item: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) of the first problem of one transfer, or None. A key of its own
    comes first: a misspelt ``Dni`` is named, not the ``dni`` it leaves out."""
    for position, key in enumerate(item, start=1):
        if key not in TRANSFER_FIELDS:  # a misspelt key would be dropped unseen
            return named_key(key, position), N_("not a field of a transfer")
    if not isinstance(item.get("end_to_end_id"), str) or not _E2E.fullmatch(item["end_to_end_id"]):
        return "end_to_end_id", N_("1 to 35 letters, digits or hyphens")
    for field, parser in (("dni", parse_document), ("cci", parse_cci)):
        try:
            parser(item.get(field))
        except IdentifierError as exc:
            return field, str(exc)
    amount = _amount(item.get("amount"))
    if amount is None:
        return "amount", N_("expected an amount in soles, such as 200.00")
    if amount <= 0 or amount > 10_000 or amount != amount.quantize(Decimal("0.01")):
        return "amount", N_("more than 0, at most 10,000, two decimals")
    name = item.get("name")
    if name is None:
        return "name", N_("required")
    if not isinstance(name, str):
        return "name", N_("expected text")
    problem = _name_problem(name)
    return None if problem is None else ("name", problem)


# An amount written as text: ASCII digits without a leading zero, a point and decimals
# ("200", "200.5", "200.00"; the range and the two decimals are checked on the value);
# Decimal alone would also read "1e2", "2_00", "+200", " 200" and other scripts' digits.
_AMOUNT_TEXT = re.compile(r"(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,20})?")


def _amount(value: object) -> Decimal | None:
    """A transfer's amount: text as :data:`_AMOUNT_TEXT`, or a JSON number (read as
    written, ``gateway.core.jsonbody.ExactNumbersRoute``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and _AMOUNT_TEXT.fullmatch(value):
        return Decimal(value)
    return None


_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
# Unicode general categories a holder's name cannot hold: control characters (C0 and
# C1), formatting and invisible ones (zero-width space, byte order mark, bidirectional
# overrides), line and paragraph separators, private-use and unassigned code points.
_INVISIBLE = frozenset({"Cf", "Zl", "Zp", "Co", "Cn"})


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a holder's name in a pain.001 (``Nm``, Max140Text), or
    None: at most 140 characters, valid Unicode, no control or invisible character, and
    at least one letter."""
    if len(name) > 140:  # Max140Text (ISO 20022)
        return N_("1 to 140 characters")
    if not name.strip():
        return N_("empty: the holder's name is needed")
    if name.isascii():  # the common case, without a look-up per character
        if _ASCII_CONTROL.search(name):
            return N_("control characters are not allowed")
        return None if _ASCII_LETTER.search(name) else N_("expected a name: it has no letter")
    if not is_unicode_text(name):  # a lone surrogate cannot be written in the pain.001
        return N_("expected valid Unicode text")
    categories = {unicodedata.category(character) for character in name}
    if "Cc" in categories:  # nor a control character (XML 1.0 §2.2)
        return N_("control characters are not allowed")
    if categories & _INVISIBLE:
        return N_("invisible or formatting characters are not allowed")
    if not any(category.startswith("L") for category in categories):
        return N_("expected a name: it has no letter")
    return None


@dataclass(frozen=True)
class Accepted:
    """A roll's run; ``created`` is False when the roll had been accepted before."""

    run: dict[str, Any]
    created: bool


class PaymentService:
    def __init__(
        self,
        keyring: DataKeyring,
        partners: PartnerRegistry,
        pseudonyms: Pseudonymizer,
        consents: ConsentCheck,
        chunk_size: int,
    ) -> None:
        self.keyring = keyring
        self.partners = partners
        self.pseudonyms = pseudonyms
        self.consents = consents
        self.chunk_size = chunk_size

    # -- intake ------------------------------------------------------------------------

    async def accept(
        self,
        session: AsyncSession,
        client_id: str,
        run_ref: str,
        requested_date: date,
        transfers: list[dict[str, Any]],
        starter: Starter | None = None,
    ) -> Accepted:
        """Queue a roll submitted by ``client_id``, started by ``starter`` (by default
        the client itself; kept as ``triggered_by`` and ``triggered_by_user`` and named
        by every audit event of the run's bank calls); for a roll already accepted under
        this reference, that run (``created`` False). A roll none of whose transfers can
        be paid raises a 422 ``validation-error`` naming each rejected row
        (``body.transfers[i].field``) and stores nothing, so its ``run_ref`` stays free
        for the corrected roll."""
        payments = PaymentRepository(session)
        existing = await payments.run_id_by_ref(client_id, run_ref)
        if existing is not None:
            return Accepted(await self.view(session, existing), created=False)
        rejections: list[dict[str, Any]] = []
        seen: set[str] = set()
        good: list[tuple[int, dict[str, Any], str]] = []
        for row, item in enumerate(transfers, start=1):
            problem = check_item(item)
            if problem is None and item["end_to_end_id"] in seen:
                problem = ("end_to_end_id", N_("repeated in this roll"))
            if problem is not None:
                rejections.append({"row": row, "field": problem[0], "reason": problem[1]})
                continue
            seen.add(item["end_to_end_id"])
            item = {**item, "dni": parse_document(item["dni"]).number}
            good.append((row, item, self.pseudonyms.of("dni", item["dni"])))
        known = await payments.known_ids([item["end_to_end_id"] for _, item, _ in good])
        covered = await self.consents.covered(
            session, sorted({ref for _, _, ref in good}), "payment", "financial"
        )
        accepted: list[tuple[dict[str, Any], str]] = []
        for row, item, ref in good:
            if item["end_to_end_id"] in known:
                rejections.append(
                    {
                        "row": row,
                        "field": "end_to_end_id",
                        "reason": N_("already in an earlier roll"),
                    }
                )
            elif ref not in covered:
                rejections.append({"row": row, "field": "dni", "reason": "consent-required"})
            else:
                accepted.append((item, ref))
        rejections.sort(key=lambda r: r["row"])  # the roll's order, whatever refused them
        if not accepted:
            # Nothing of the roll can be paid: refused whole, so that the corrected roll
            # can be sent again under the same run_ref (nothing is stored).
            raise ValidationFailed(
                Text(
                    "no transfer of the roll can be paid (transfers rejected: {rejected}); fix "
                    "them and send the roll again",
                    rejected=len(rejections),
                ),
                extra={
                    "errors": [
                        {
                            "field": f"body.transfers[{r['row'] - 1}].{r['field']}",
                            "message": intake_reason(r["reason"]),
                            "reason": r["reason"],  # the code, as a run's rejections say
                        }
                        for r in rejections[:1000]
                    ]
                },
            )
        starter = starter or Starter.client(client_id)
        now = datetime.now(UTC)
        run_id = str(uuid.uuid4())
        stored = await payments.add_run(
            {
                "run_id": run_id,
                "client_id": client_id,
                "run_ref": run_ref,
                "state": "queued",
                "requested_date": requested_date,
                "items": len(accepted),
                "chunks": -(-len(accepted) // self.chunk_size),
                "chunks_done": 0,
                "attempts": 0,
                # The first 1,000 rejections, and how many there were in all.
                "reconciliation": {
                    "rejected_at_intake": rejections[:1000],
                    INTAKE_COUNT: len(rejections),
                },
                "not_before": now,
                "created_at": now,
                "finished_at": None,
                "triggered_by": starter.triggered_by,
                "triggered_by_user": starter.triggered_by_user,
            }
        )
        if not stored:  # the same roll raced in: that run
            again = await payments.run_id_by_ref(client_id, run_ref)
            assert again is not None
            return Accepted(await self.view(session, again), created=False)
        rows = []
        for position, (item, ref) in enumerate(accepted):
            e2e = item["end_to_end_id"]
            personal = {"dni": item["dni"], "name": item["name"], "cci": item["cci"]}
            rows.append(
                {
                    "end_to_end_id": e2e,
                    "run_id": run_id,
                    "chunk_no": position // self.chunk_size,
                    "position": position,
                    "amount": f"{Decimal(str(item['amount'])):.2f}",
                    "holder_ref": ref,
                    "sealed": self.keyring.encrypt(
                        json.dumps(personal).encode(), item_aad({"end_to_end_id": e2e})
                    ),
                    "status": "queued",
                    "reason": None,
                }
            )
        await payments.add_items(rows)
        return Accepted(await self.view(session, run_id), created=True)

    # -- reading -----------------------------------------------------------------------

    async def view(self, session: AsyncSession, run_id: str) -> dict[str, Any]:
        payments = PaymentRepository(session)
        run = await payments.run(run_id)
        if run is None:
            raise NotFound(N_("no payment run with this id"))
        reconciliation = dict(run.reconciliation or {})
        # Kept in the reconciliation's document; answered beside it (runs stored before
        # the count was kept list all their rejections, up to 1,000).
        rejected = reconciliation.pop(
            INTAKE_COUNT, len(reconciliation.get("rejected_at_intake", []))
        )
        counts = await payments.status_counts(run_id)
        reasons = await payments.rejection_counts(run_id)
        return {
            "id": run.run_id,
            "run_ref": run.run_ref,
            "state": run.state,
            "requested_date": run.requested_date.isoformat(),
            "items": run.items,
            "chunks": run.chunks,
            "chunks_done": run.chunks_done,
            "paid": counts.get("paid", 0),
            "rejected": counts.get("rejected", 0),
            "rejected_by_reason": reasons,
            "pending": sum(v for k, v in counts.items() if k not in ("paid", "rejected")),
            "attempts": run.attempts,
            "last_error": run.last_error,
            "reconciliation": reconciliation,
            "rejected_at_intake": rejected,
            "triggered_by": run.triggered_by,
            "triggered_by_user": run.triggered_by_user,
        }

    async def runs(
        self, session: AsyncSession, limit: int = 50, *, state: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest runs first (in ``state`` if given), each as :meth:`view` shows it
        plus who submitted it (``client_id``) and when (``created_at``, ``finished_at``,
        ISO 8601)."""
        out = []
        for run in await PaymentRepository(session).runs(limit, state=state):
            shown = await self.view(session, run.run_id)
            shown["client_id"] = run.client_id
            shown["created_at"] = run.created_at.isoformat()
            shown["finished_at"] = run.finished_at.isoformat() if run.finished_at else None
            out.append(shown)
        return out

    # -- what the bank pushes ----------------------------------------------------------

    async def transfers_of(self, session: AsyncSession, msg_id: str) -> list[str]:
        """The EndToEndIds of the pain.001 sent under ``msg_id`` (none if it is not one
        of the gateway's messages), in the order they were sent."""
        payments = PaymentRepository(session)
        chunk = await payments.chunk_of_message(msg_id)
        return [] if chunk is None else await payments.chunk_ids(*chunk)

    async def apply_report(
        self, session: AsyncSession, report: PaymentReport, intake: ReportIntake
    ) -> int:
        """A pain.002 status report pushed by the bank: one row per transfer it covers
        (``end_to_end_id``, ``status``, ``reason``, ``original_msg_id``), a group- or
        block-level status covering every transfer of the original message the report
        does not list; ``intake`` keeps the rows (its status codes checked by the bank
        adapter), then the accepted rows settle or reject their items, in the caller's
        transaction. The number of items changed (0 for a resend)."""
        statuses = [(t.end_to_end_id, t.status, t.reason) for t in report.transactions]
        listed = {e2e for e2e, _, _ in statuses}
        if report.unlisted_status is not None:
            statuses += [
                (e2e, report.unlisted_status, report.unlisted_reason)
                for e2e in await self.transfers_of(session, report.original_msg_id)
                if e2e not in listed
            ]
        rows: list[dict[str, Any]] = [
            {
                "end_to_end_id": e2e,
                "status": status,
                "reason": reason,
                "original_msg_id": report.original_msg_id,
            }
            for e2e, status, reason in statuses
        ]
        accepted = await intake(rows, self._status_errors)
        if accepted is None:
            return 0
        return await self.apply_statuses(session, accepted)

    def _status_errors(self, row: dict[str, Any]) -> list[tuple[str, str]]:
        """``status`` as the bank adapter judges it (the codes are the bank's)."""
        message = self.partners.get(Bank).invalid_status(row.get("status"))
        return [] if message is None else [("status", message)]

    async def apply_statuses(self, session: AsyncSession, rows: list[dict[str, Any]]) -> int:
        """Statuses pushed by the bank (pain.002), each row an item's effective status
        code: settle or reject items still waiting for one (the bank adapter says which
        codes are which). An item already paid or rejected keeps its state."""
        bank = self.partners.get(Bank)
        payments = PaymentRepository(session)
        changed = 0
        for row in rows:
            new = bank.outcome(row["status"])
            if new == "pending":
                continue
            reason = row.get("reason") if new == "rejected" else None
            changed += await payments.settle_waiting(row["end_to_end_id"], new, reason)
        return changed
