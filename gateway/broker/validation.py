"""Input checks that name the failing field: identity documents, ubigeo, dates, periods."""

from __future__ import annotations

import re
from datetime import date

from stdnum.pe import cui as stdnum_cui

from gateway.core.errors import ProblemError

# ASCII digits only: ``\d`` would also take other scripts' digits.
_DOCUMENT = re.compile(r"^([0-9]{8})-?([0-9A-K])?$")
_UBIGEO = re.compile(r"^[0-9]{6}$")
_PERIOD = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


def invalid(field: str, message: str) -> ProblemError:
    return ProblemError(
        "validation-error",
        f"invalid fields: {field}",
        extra={"errors": [{"field": field, "message": message}]},
    )


def parse_document(value: str, field: str) -> tuple[str, str | None]:
    """An 8-digit DNI or CUI, with its check character verified when one is given
    (``12345678``, ``12345678-9`` or ``12345678K``)."""
    match = _DOCUMENT.match(value.strip().upper())
    if match is None:
        raise invalid(field, "expected 8 digits, optionally followed by the check character")
    number, check = match.group(1), match.group(2)
    if check is not None and check not in stdnum_cui.calc_check_digits(number):
        raise invalid(field, "the check character does not match the number")
    return number, check if check is None or check.isdigit() else None


def parse_ubigeos(values: list[str], field: str) -> list[str]:
    if len(values) > 50:
        raise invalid(field, "at most 50 ubigeo codes per request")
    for value in values:
        if not _UBIGEO.match(value):
            raise invalid(field, "each ubigeo is 6 digits")
    return values


def check_range(born_from: date, born_to: date, max_days: int = 366) -> None:
    if born_to < born_from:
        raise invalid("query.born_to", "must not be before born_from")
    if (born_to - born_from).days > max_days:
        raise invalid("query.born_to", f"the range may span at most {max_days} days")


def parse_period(value: str, field: str = "query.period") -> tuple[int, int]:
    match = _PERIOD.match(value)
    if match is None:
        raise invalid(field, "expected YYYY-MM")
    return int(match.group(1)), int(match.group(2))
