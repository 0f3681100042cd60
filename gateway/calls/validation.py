"""Input checks that name the failing field: identity documents, ubigeo, dates, periods.

The parsing itself is :mod:`gateway.identifiers` (one parser per identifier kind, ASCII
digits only, check characters verified); this module turns its refusals into RFC 9457
problems naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from functools import partial
from typing import Literal, TypeVar

from gateway import identifiers
from gateway.core.errors import invalid_fields
from gateway.core.i18n import N_, Text
from gateway.core.problems import ProblemError, ValidationFailed
from gateway.districts import DistrictTable

T = TypeVar("T")


def invalid(field: str, message: str | Text) -> ProblemError:
    """422 ``validation-error`` naming ``field``; ``message`` is a catalog id or a ``Text``
    (answered in the reader's language)."""
    return ValidationFailed(
        Text("invalid fields: {fields}", fields=field),
        extra={"errors": [{"field": field, "message": message}]},
    )


class EveryField:
    """Collects the refusals of several checks of one request and raises them together:
    a client fixes every field in one round instead of one per request.

    ``take(check)`` runs ``check()`` and returns its result, or None after recording the
    fields a ``ValidationFailed`` named; ``done()`` raises one ``ValidationFailed``
    listing them (in the order checked; the first 1,000, ``invalid_fields``) if any
    check failed."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str | Text]] = []

    def take(self, check: Callable[[], T]) -> T | None:
        try:
            return check()
        except ValidationFailed as exc:
            self.errors.extend(exc.extra.get("errors", []))
            return None

    def add(self, field: str, message: str | Text) -> None:
        self.errors.append({"field": field, "message": message})

    def done(self) -> None:
        if self.errors:
            detail, listed = invalid_fields(self.errors)
            raise ValidationFailed(detail, extra={"errors": listed})


def document_number(value: str, field: str) -> str:
    """The number of a DNI or CUI (``parse_document``), for :meth:`EveryField.take`."""
    return parse_document(value, field)[0]


def parse_documents(
    values: Sequence[str], field: Callable[[int], str]
) -> list[identifiers.Document]:
    """Every entry of a batch parsed as :func:`parse_document`; ``ValidationFailed``
    naming every bad entry (``field(i)``, ``body.dnis[3]``) at once, not the first."""
    fields = EveryField()
    parsed = [fields.take(partial(parse_document, v, field(i))) for i, v in enumerate(values)]
    fields.done()
    return [p for p in parsed if p is not None]


def parse(parser: Callable[[object], T], value: object, field: str) -> T:
    """``parser(value)`` from :mod:`gateway.identifiers`, or a 422 problem naming
    ``field`` with the parser's message (which never repeats the value)."""
    try:
        return parser(value)
    except identifiers.IdentifierError as exc:
        raise invalid(field, exc.text) from None


def parse_document(value: str, field: str) -> identifiers.Document:
    """An 8-digit DNI or CUI, with its check character verified when one is given
    (``12345678``, ``12345678-9`` or ``12345678K``): (number, check digit or None)."""
    return parse(identifiers.parse_document, value, field)


def parse_ubigeos(values: list[str], field: str, districts: DistrictTable) -> list[str]:
    """INEI district codes, each known to the district table (at most 50); an entry
    refused is named by its index (``field[i]``)."""
    if len(values) > 50:
        raise invalid(field, N_("at most 50 ubigeo codes per request"))
    return [
        parse(lambda v: districts.to_inei(v, "inei"), value, f"{field}[{i}]")
        for i, value in enumerate(values)
    ]


#: The longest birth-date window a look-up or an exchange run may ask, in days.
MAX_WINDOW_DAYS = 366


def range_fault(
    born_from: date, born_to: date, max_days: int = MAX_WINDOW_DAYS
) -> Literal["inverted", "too-long"] | None:
    """What is wrong with a birth-date window, if anything: ``born_to`` before
    ``born_from`` (``"inverted"``), or more than ``max_days`` between them (``"too-long"``)."""
    if born_to < born_from:
        return "inverted"
    if (born_to - born_from).days > max_days:
        return "too-long"
    return None


def check_range(
    born_from: date,
    born_to: date,
    max_days: int = MAX_WINDOW_DAYS,
    *,
    location: str = "query",
    today_when_absent: bool = False,
) -> None:
    """A birth-date window: ``born_to`` not before ``born_from``, at most ``max_days``
    long. Raises ``ValidationFailed`` naming ``<location>.born_to`` (``query`` for a
    look-up's parameters, ``body`` for a run request's); ``today_when_absent``: the
    operation takes today for a ``born_to`` left out, and the refusal says so."""
    fault = range_fault(born_from, born_to, max_days)
    if fault == "inverted":
        raise invalid(f"{location}.born_to", N_("must not be before born_from"))
    if fault == "too-long":
        too_long = (
            N_(
                "the range from born_from to born_to (today when absent) may span at most "
                "{days} days"
            )
            if today_when_absent
            else N_("the range from born_from to born_to may span at most {days} days")
        )
        raise invalid(f"{location}.born_to", Text(too_long, days=max_days))


def parse_period(value: str, field: str = "query.period") -> tuple[int, int]:
    return parse(identifiers.parse_period, value, field)
