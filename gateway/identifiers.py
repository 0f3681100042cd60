"""One parser per identifier kind, used by every feature and by the partner mocks.

Why one module: a person must be the same person whichever endpoint names them. The
audit log and the consent registry find a person by the keyed pseudonym of the
*canonical* form of their number, so two spellings of one DNI (``60542601-3`` and
``60542601H``) must parse to one canonical value, and a spelling that is not a DNI
(``٦٠٥٤٢٦٠١``, Arabic-Indic digits, or ``６０５４２６０１``, full-width) must be refused
rather than pseudonymised into a different person.

Rules shared by every parser:

- digits are ASCII ``0``-``9`` only (``[0-9]`` matched with ``re.fullmatch``; never ``\\d``
  or ``str.isdigit``, which accept any Unicode digit, nor ``$``, which accepts a trailing
  newline);
- a check character is verified wherever the identifier has one (DNI and CUI through
  ``stdnum.pe.cui``, RUC through ``stdnum.pe.ruc``, the two CCI check digits);
- a refusal is an :class:`IdentifierError` whose message says what was expected and
  never repeats the value (identifiers are personal data).

Canonical forms (what is stored, pseudonymised and sent to partners):

==========  ==========================================  ================================
kind        accepted                                    canonical
==========  ==========================================  ================================
DNI, CUI    8 digits, optionally ``-`` and the check     the 8 digits; the check digit in
            character in digit or letter form            digit form when given as a digit
            (``60542601``, ``60542601-3``, ``605426013``,
            ``60542601-H``, ``60542601h``)
RUC         11 digits, type prefix 10/15/17/20, check    the 11 digits
CCI         20 digits, both check digits                 the 20 digits
ubigeo      6 digits (coding declared by the caller)     the 6 digits
phone       9 digits starting with 9 (mobile)            the 9 digits
period      ``YYYY-MM``                                  (year, month)
==========  ==========================================  ================================
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal, NamedTuple

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError
from stdnum.pe import cui as stdnum_cui
from stdnum.pe import ruc as stdnum_ruc

from gateway.core.i18n import N_, Text

_DOCUMENT = re.compile(r"([0-9]{8})-?([0-9A-K])?")
_DIGITS = {n: re.compile(f"[0-9]{{{n}}}") for n in (6, 11, 20)}
#: A Peruvian mobile number, national form (what :func:`parse_phone` accepts).
PHONE_PATTERN = "9[0-9]{8}"
_PHONE = re.compile(PHONE_PATTERN)
# Years 1900-2999: a programme period (a date before 1900 or past 9999 breaks date arithmetic).
_PERIOD = re.compile(r"((?:19|2[0-9])[0-9]{2})-(0[1-9]|1[0-2])")

UbigeoCoding = Literal["inei", "reniec"]


class IdentifierError(ValueError):
    """An identifier that is not of its kind. The message says what was expected and
    never contains the value."""

    @property
    def text(self) -> str | Text:
        """The message for a person: a catalog id (or a ``Text``), rendered in the
        reader's language where it is shown."""
        return str(self)


class NotADay(IdentifierError):
    """A date of the right form that the calendar does not have (2021-02-30)."""


class Document(NamedTuple):
    """A parsed DNI or CUI: ``number`` (8 ASCII digits, the canonical form that is
    pseudonymised) and ``check_digit`` (the check character in digit form when the
    caller gave it as a digit, else ``None``)."""

    number: str
    check_digit: str | None


def is_ascii_digits(value: str, length: int | None = None) -> bool:
    """Whether ``value`` is ASCII digits only (of ``length`` when given)."""
    if length is not None and len(value) != length:
        return False
    return value != "" and all("0" <= c <= "9" for c in value)


def parse_document(value: object) -> Document:
    """A DNI or CUI (RENIEC's 8-digit number; a Peruvian child's CUI is the number of
    their DNI) with its check character verified when one is given.

    Accepts surrounding spaces, an optional hyphen and the check character in digit or
    letter form, either case. Raises :class:`IdentifierError`.
    """
    text = value.strip().upper() if isinstance(value, str) else None
    match = _DOCUMENT.fullmatch(text) if text is not None else None
    if match is None:
        raise IdentifierError(N_("expected 8 digits, optionally followed by the check character"))
    number, check = match.group(1), match.group(2)
    if check is not None and check not in stdnum_cui.calc_check_digits(number):
        raise IdentifierError(N_("the check character does not match the number"))
    return Document(number, check if check is not None and check in "0123456789" else None)


def parse_dni(value: object) -> str:
    """The canonical 8-digit DNI (see :func:`parse_document`)."""
    return parse_document(value).number


def parse_cui(value: object) -> str:
    """The canonical 8-digit CUI (see :func:`parse_document`)."""
    return parse_document(value).number


def parse_ruc(value: object) -> str:
    """A RUC (SUNAT taxpayer number): 11 digits whose prefix says the kind of taxpayer
    (10, 15, 17 or 20) and whose last digit checks the rest (``stdnum.pe.ruc``)."""
    if not isinstance(value, str) or _DIGITS[11].fullmatch(value) is None:
        raise IdentifierError(N_("expected the 11-digit RUC"))
    if not stdnum_ruc.is_valid(value):
        raise IdentifierError(N_("not a valid RUC (type prefix or check digit)"))
    return value


def cci_check_digit(digits: str) -> str:
    """One CCI check digit over ``digits``: alternating weights 1 and 2 from the left,
    products above 9 add their digits, ``(10 - sum mod 10) mod 10``."""
    total = 0
    for position, char in enumerate(digits):
        product = int(char) * (1 if position % 2 == 0 else 2)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def parse_cci(value: object) -> str:
    """A CCI (código de cuenta interbancario): bank (3) + office (3) + account (12) +
    a check digit over bank and office + a check digit over the account."""
    if not isinstance(value, str) or _DIGITS[20].fullmatch(value) is None:
        raise IdentifierError(N_("expected the 20-digit CCI"))
    if value[18] != cci_check_digit(value[:6]) or value[19] != cci_check_digit(value[6:18]):
        raise IdentifierError(N_("the CCI check digits do not match"))
    return value


def is_valid_cci(value: object) -> bool:
    try:
        parse_cci(value)
    except IdentifierError:
        return False
    return True


def parse_ubigeo(value: object) -> str:
    """A 6-digit district code (department, province, district). The coding (INEI or
    RENIEC) is not visible in the code: callers declare it, and
    :class:`gateway.districts.DistrictTable` converts between codings."""
    if not isinstance(value, str) or _DIGITS[6].fullmatch(value) is None:
        raise IdentifierError(N_("expected a 6-digit ubigeo"))
    return value


def parse_phone(value: object) -> str:
    """A Peruvian mobile number: 9 digits starting with 9, no country code."""
    if not isinstance(value, str) or _PHONE.fullmatch(value) is None:
        raise IdentifierError(N_("expected a 9-digit mobile number starting with 9"))
    return value


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: object) -> date:
    """A calendar date written ``YYYY-MM-DD`` (ISO 8601's extended calendar form), as
    text. Python 3.11's ``date.fromisoformat`` also takes ``20210211`` and week dates
    (``2021-W06-4``), which no contract here names. IdentifierError otherwise ("not a
    day of the calendar" for a date of the right form that does not exist)."""
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:  # 2021-02-30: the form is right, the day does not exist
            raise NotADay(N_("not a day of the calendar")) from None
    raise IdentifierError(N_("expected a date YYYY-MM-DD"))


def _calendar_date(value: object) -> object:
    if isinstance(value, date):  # built in code, not read from a request
        return value
    try:
        return parse_date(value)
    except IdentifierError as exc:
        # Types gateway.core.errors words (date_parsing: pydantic's own).
        kind = "date_not_a_day" if isinstance(exc, NotADay) else "date_parsing"
        raise PydanticCustomError(kind, str(exc)) from None


#: A date a request gives, in a body or a query: text ``YYYY-MM-DD`` only, as
#: :func:`parse_date` reads it. pydantic's own ``date`` (lax mode) also takes a Unix time
#: ("1612915200") and a datetime at midnight ("2021-02-10T00:00:00Z"), which no contract
#: here names.
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]


def parse_period(value: object) -> tuple[int, int]:
    """A calendar month ``YYYY-MM`` (year 1900 to 2999) as (year, month)."""
    match = _PERIOD.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise IdentifierError(N_("expected YYYY-MM, a year from 1900 to 2999"))
    return int(match.group(1)), int(match.group(2))
