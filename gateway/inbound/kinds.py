"""What each inbound feed carries and how each row is checked.

Errors name the row and the field, never the value (rows carry DNIs and CUIs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from stdnum.pe import cui as stdnum_cui

_DOCUMENT = re.compile(r"^(\d{8})-?([0-9A-K])?$")
_UBIGEO = re.compile(r"^\d{6}$")
_PHONE = re.compile(r"^9\d{8}$")
_ITEM = re.compile(r"^[A-Z0-9][A-Z0-9.]{2,9}$")
_CNV = re.compile(r"^\d{8,12}$")

Errors = list[tuple[str, str]]


def _document(row: dict[str, Any], name: str, errors: Errors) -> None:
    value = row.get(name)
    match = _DOCUMENT.match(str(value).strip().upper()) if isinstance(value, str | int) else None
    if match is None:
        errors.append((name, "expected 8 digits, optionally followed by the check character"))
        return
    number, check = match.group(1), match.group(2)
    if check is not None and check not in stdnum_cui.calc_check_digits(number):
        errors.append((name, "the check character does not match the number"))
        return
    row[name] = number


def _date(row: dict[str, Any], name: str, errors: Errors, *, not_after: date | None = None) -> None:
    value = row.get(name)
    try:
        parsed = date.fromisoformat(str(value))
    except ValueError:
        errors.append((name, "expected a date YYYY-MM-DD"))
        return
    if not_after is not None and parsed > not_after:
        errors.append((name, "is in the future"))
        return
    row[name] = parsed.isoformat()


def _pattern(
    row: dict[str, Any], name: str, pattern: re.Pattern[str], message: str, errors: Errors
) -> None:
    value = row.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        errors.append((name, message))


def _text(
    row: dict[str, Any], name: str, errors: Errors, limit: int, *, required: bool = True
) -> None:
    value = row.get(name)
    if value in (None, ""):
        if required:
            errors.append((name, "required"))
        return
    if not isinstance(value, str) or len(value) > limit:
        errors.append((name, f"expected text of at most {limit} characters"))


def _births(row: dict[str, Any]) -> Errors:
    errors: Errors = []
    _document(row, "cui", errors)
    _pattern(row, "cnv", _CNV, "expected 8 to 12 digits", errors)
    _date(row, "birth_date", errors, not_after=date.today())
    if row.get("sex") not in ("M", "F"):
        errors.append(("sex", "expected M or F"))
    _pattern(row, "ubigeo", _UBIGEO, "expected 6 digits", errors)
    _document(row, "mother_dni", errors)
    return errors


def _his(row: dict[str, Any]) -> Errors:
    errors: Errors = []
    _document(row, "cui", errors)
    _text(row, "appointment_id", errors, 40)
    _date(row, "service_date", errors, not_after=date.today())
    _pattern(row, "item_code", _ITEM, "expected an HIS item code (CIE-10, CPT or supply)", errors)
    _text(row, "facility", errors, 20)
    _text(row, "lab_value", errors, 20, required=False)
    return errors


def _lines(row: dict[str, Any]) -> Errors:
    errors: Errors = []
    _document(row, "dni", errors)
    _pattern(row, "number", _PHONE, "expected a 9-digit mobile number starting with 9", errors)
    _text(row, "operator", errors, 40)
    if row.get("change") not in ("activated", "deactivated", "transferred"):
        errors.append(("change", "expected activated, deactivated or transferred"))
    _date(row, "effective_date", errors, not_after=date.today())
    return errors


_E2E = re.compile(r"^[A-Za-z0-9-]{1,35}$")
_STATUS = re.compile(r"^[A-Z]{4}$")


def _payment_status(row: dict[str, Any]) -> Errors:
    errors: Errors = []
    _pattern(row, "end_to_end_id", _E2E, "1 to 35 letters, digits or hyphens", errors)
    _pattern(row, "status", _STATUS, "an ISO 20022 status code (ACSC, RJCT, PDNG, ...)", errors)
    _text(row, "reason", errors, 8, required=False)
    return errors


def _settlement(row: dict[str, Any]) -> Errors:
    errors: Errors = []
    _pattern(row, "end_to_end_id", _E2E, "1 to 35 letters, digits or hyphens", errors)
    _pattern(row, "amount", re.compile(r"^\d{1,9}(\.\d{1,2})?$"), "an amount", errors)
    _date(row, "booking_date", errors)
    return errors


@dataclass(frozen=True)
class Feed:
    name: str
    partner: str
    service: str
    fields: tuple[str, ...]
    check: Callable[[dict[str, Any]], Errors]


FEEDS = {
    feed.name: feed
    for feed in (
        Feed(
            "births",
            "reniec",
            "reniec.birth-events",
            ("cui", "cnv", "birth_date", "sex", "ubigeo", "mother_dni"),
            _births,
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
