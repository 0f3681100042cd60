"""What each inbound feed carries and how each row is checked.

Identifiers are parsed by :mod:`gateway.identifiers` (ASCII digits, check characters
verified) and stored in canonical form. A feed that carries a district declares the
ubigeo coding its partner uses, in the field's name: RENIEC pushes births with RENIEC
codes (``ubigeo_reniec``); each is converted to its INEI code (``ubigeo_inei``, the code
health data, the Padrón and the poverty map use) with the district table, and a code the
table does not know in the declared coding refuses the row.

Errors name the row and the field, never the value (rows carry DNIs and CUIs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.districts import DistrictTable
from gateway.identifiers import (
    IdentifierError,
    UbigeoCoding,
    parse_date,
    parse_document,
    parse_phone,
)

_ITEM = re.compile(r"[A-Z0-9][A-Z0-9.]{2,9}")
_CNV = re.compile(r"[0-9]{8,12}")
_AMOUNT = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")

Errors = list[tuple[str, str]]
# A partner's own check of a row, added to its feed's (the codes only its adapter knows).
RowCheck = Callable[[dict[str, Any]], Errors]

# Feed -> the catalog service under which programme systems receive it as notices.
NOTICES = {
    "births": "reniec.birth-notices",
    "health-records": "minsa_his.record-notices",
    "line-changes": "osiptel.line-notices",
}


class Notices(Protocol):
    """Where an accepted message's rows are owed to subscribers (``gateway.subscriptions``,
    wired by ``gateway.state``): declared here so that the inbound feature, which the
    subscriptions read from, does not import them back."""

    async def fan_out(self, session: AsyncSession, feed: str, partner: str, message_id: str) -> int:
        """Owe every stored chunk of the message to each subscription of ``feed``; the
        number of deliveries created, in the caller's transaction."""
        ...


def _missing(row: dict[str, Any], name: str, errors: Errors) -> bool:
    """Whether the row lacks ``name`` (absent, null or empty: a CSV cell left blank),
    recorded as "required"."""
    if row.get(name) in (None, ""):
        errors.append((name, "required"))
        return True
    return False


def _document(row: dict[str, Any], name: str, errors: Errors) -> None:
    if _missing(row, name, errors):
        return
    value = row.get(name)
    try:
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        row[name] = parse_document(text).number
    except IdentifierError as exc:
        errors.append((name, str(exc)))


def _ubigeo(
    row: dict[str, Any],
    coding: UbigeoCoding,
    districts: DistrictTable,
    errors: Errors,
) -> None:
    """``ubigeo_<coding>`` converted to ``ubigeo_inei`` with the district table."""
    name = f"ubigeo_{coding}"
    if _missing(row, name, errors):
        return
    try:
        row["ubigeo_inei"] = districts.to_inei(row.get(name), coding)
    except IdentifierError as exc:
        errors.append((name, str(exc)))


def _date(row: dict[str, Any], name: str, errors: Errors, *, not_after: date | None = None) -> None:
    """A calendar date written YYYY-MM-DD, as text (ISO 8601's extended calendar form,
    the only one the feeds' contracts name: not a number, a week date or a time)."""
    if _missing(row, name, errors):
        return
    try:
        parsed = parse_date(row.get(name))
    except IdentifierError as exc:
        errors.append((name, str(exc)))
        return
    if not_after is not None and parsed > not_after:
        errors.append((name, "is in the future"))
        return
    row[name] = parsed.isoformat()


def _pattern(
    row: dict[str, Any], name: str, pattern: re.Pattern[str], message: str, errors: Errors
) -> None:
    if _missing(row, name, errors):
        return
    value = row.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        errors.append((name, message))


def _text(
    row: dict[str, Any],
    name: str,
    errors: Errors,
    limit: int,
    *,
    required: bool = True,
    numbers: bool = False,
) -> None:
    """Text of at most ``limit`` characters; with ``numbers``, a JSON number is taken
    too and stored as written (an NDJSON exporter writes a lab value 11.50 unquoted)."""
    if not required and row.get(name) in (None, ""):
        return
    if _missing(row, name, errors):
        return
    value = row.get(name)
    if numbers and isinstance(value, int | Decimal) and not isinstance(value, bool):
        value = row[name] = str(value)  # a JSON number as written (the reader's Decimal)
    if not isinstance(value, str):
        errors.append((name, "expected text"))
    elif len(value) > limit:
        errors.append((name, f"expected text of at most {limit} characters"))


def _births(row: dict[str, Any], districts: DistrictTable) -> Errors:
    errors: Errors = []
    _document(row, "cui", errors)
    _pattern(row, "cnv", _CNV, "expected 8 to 12 digits", errors)
    _date(row, "birth_date", errors, not_after=date.today())
    if not _missing(row, "sex", errors) and row.get("sex") not in ("M", "F"):
        errors.append(("sex", "expected M or F"))
    _ubigeo(row, "reniec", districts, errors)
    _document(row, "mother_dni", errors)
    return errors


def _his(row: dict[str, Any], districts: DistrictTable) -> Errors:
    errors: Errors = []
    _document(row, "cui", errors)
    _text(row, "appointment_id", errors, 40)
    _date(row, "service_date", errors, not_after=date.today())
    _pattern(row, "item_code", _ITEM, "expected an HIS item code (CIE-10, CPT or supply)", errors)
    _text(row, "facility", errors, 20)
    _text(row, "lab_value", errors, 20, required=False, numbers=True)
    return errors


def _lines(row: dict[str, Any], districts: DistrictTable) -> Errors:
    errors: Errors = []
    _document(row, "dni", errors)
    if not _missing(row, "number", errors):
        try:
            parse_phone(row.get("number"))
        except IdentifierError as exc:
            errors.append(("number", str(exc)))
    _text(row, "operator", errors, 40)
    if not _missing(row, "change", errors) and row.get("change") not in (
        "activated",
        "deactivated",
        "transferred",
    ):
        errors.append(("change", "expected activated, deactivated or transferred"))
    _date(row, "effective_date", errors, not_after=date.today())
    return errors


_E2E = re.compile(r"[A-Za-z0-9-]{1,35}")


def _payment_status(row: dict[str, Any], districts: DistrictTable) -> Errors:
    """The shape the gateway needs; which status codes exist is the bank adapter's
    knowledge (``Bank.invalid_status``), checked with it by the payments service."""
    errors: Errors = []
    _pattern(row, "end_to_end_id", _E2E, "1 to 35 letters, digits or hyphens", errors)
    _text(row, "reason", errors, 8, required=False)
    return errors


def _settlement(row: dict[str, Any], districts: DistrictTable) -> Errors:
    errors: Errors = []
    _pattern(row, "end_to_end_id", _E2E, "1 to 35 letters, digits or hyphens", errors)
    _pattern(row, "amount", _AMOUNT, "an amount", errors)
    _date(row, "booking_date", errors)
    return errors


@dataclass(frozen=True)
class Feed:
    """An inbound feed: ``fields`` are what the partner sends, ``derived`` what the
    gateway adds to an accepted row (``ubigeo_inei`` from a declared coding); a stored
    row holds both. ``check(row, districts)`` normalises the row in place and returns
    its (field, message) errors."""

    name: str
    partner: str
    service: str
    fields: tuple[str, ...]
    check: Callable[[dict[str, Any], DistrictTable], Errors]
    derived: tuple[str, ...] = ()

    @property
    def stored_fields(self) -> tuple[str, ...]:
        return self.fields + self.derived


FEEDS = {
    feed.name: feed
    for feed in (
        Feed(
            "births",
            "reniec",
            "reniec.birth-events",
            ("cui", "cnv", "birth_date", "sex", "ubigeo_reniec", "mother_dni"),
            _births,
            derived=("ubigeo_inei",),
        ),
        Feed(
            "health-records",
            "minsa_his",
            "minsa_his.records-push",
            ("cui", "appointment_id", "service_date", "item_code", "facility", "lab_value"),
            _his,
        ),
        Feed(
            "payment-status",
            "bn",
            "bn.payment-status",
            ("end_to_end_id", "status", "reason", "original_msg_id"),
            _payment_status,
        ),
        Feed(
            "settlements",
            "bn",
            "bn.settlements",
            ("end_to_end_id", "amount", "booking_date", "msg_id"),
            _settlement,
        ),
        Feed(
            "line-changes",
            "osiptel",
            "osiptel.line-changes",
            ("dni", "number", "operator", "change", "effective_date"),
            _lines,
        ),
    )
}
