"""What the intake says about a pushed file, in the words of the agent who uploaded it.

The intake (``gateway.inbound``) writes its row errors and refusals in English, for the
API's clients, and never with a value from the body: a row number, a field or column
name, and a reason. The console shows the same facts in the agent's language: each
known reason has a message id here (``N_``, extracted into the ``agent`` catalog), and a
reason with a number in it (a length, a count of columns) is matched by a pattern whose
named groups fill the translated text. A reason not known here is shown as the intake
wrote it, so nothing is hidden when the intake learns a new one.

Sources of the English texts: ``gateway.inbound.feeds`` (row checks),
``gateway.identifiers`` and ``gateway.districts`` (identifier and ubigeo parsing),
``gateway.inbound.reading`` (CSV and NDJSON reading, refusals of a whole body) and the
bank adapter's status check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gateway.core.problems import (
    BadRequest,
    MessageIdReused,
    MessageInProgress,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMediaType,
    ValidationFailed,
)

Translate = Callable[[str], str]


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for a marked message
    """Mark ``message`` for extraction; translated where it is shown."""
    return message


# Reasons a row is refused, as the intake words them (exact).
REASONS = frozenset(
    {
        N_("required"),
        N_("expected a date YYYY-MM-DD"),
        N_("is in the future"),
        N_("expected 8 to 12 digits"),
        N_("expected M or F"),
        N_("expected an HIS item code (CIE-10, CPT or supply)"),
        N_("expected activated, deactivated or transferred"),
        N_("1 to 35 letters, digits or hyphens"),
        N_("an amount"),
        N_("expected 8 digits, optionally followed by the check character"),
        N_("the check character does not match the number"),
        N_("expected a 6-digit ubigeo"),
        N_("expected a 9-digit mobile number starting with 9"),
        N_("not a JSON object"),
        N_("not readable as CSV"),
        N_("a quoted value is not closed"),
        N_("an ISO 20022 status code (ACSC, RJCT, PDNG, ...)"),
    }
)

# Reasons with a number or a code in them: (the intake's wording, the message id).
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"expected text of at most (?P<limit>\d+) characters"),
        N_("expected text of at most {limit} characters"),
    ),
    (
        re.compile(r"expected (?P<width>\d+) columns, found (?P<found>\d+)"),
        N_("expected {width} columns, found {found}"),
    ),
    (
        re.compile(r"not a district code in the (?P<coding>[A-Z]+) coding"),
        N_("not a district code in the {coding} coding"),
    ),
)


def reason(message: str, gettext: Translate) -> str:
    """A row's reason in the agent's language (the intake's text when unknown)."""
    if message in REASONS:
        return gettext(message)
    for pattern, msgid in PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return gettext(msgid).format(**match.groupdict())
    return message


_COLUMN = re.compile(r"body\.header\.column(?P<position>\d+)")
_NOT_A_FIELD = re.compile(r"(?P<name>'.*'|an empty name|\(unreadable\)) is not a field")
_CHARSET = re.compile(r"not valid (?P<charset>\S+) text")
_BOM = re.compile(r"declares charset (?P<charset>\S+)")
_LONG_LINE = re.compile(r"line (?P<line>\d+) (is longer than|opens a quoted value longer than)")
_DOCUMENT = re.compile(r"not a valid (?P<kind>\S+) document: (?P<why>.*)", re.DOTALL)


def refusal(exc: ProblemError, gettext: Translate, limit: str) -> list[str]:
    """Why a whole file was refused, one sentence per problem, naming columns and lines
    (``limit``: the feed's size limit as the page shows it)."""
    errors: list[dict[str, Any]] = list(exc.extra.get("errors", []))
    if isinstance(exc, ValidationFailed):
        found = [_header(e, gettext) for e in errors]
        if any(found):
            return [line for line in found if line]
    if isinstance(exc, BadRequest) and errors:
        row = errors[0].get("row", 1)
        message = str(errors[0].get("message", ""))
        charset = _CHARSET.search(message)
        if charset:
            return [
                gettext(
                    "Line {line} is not {charset} text: choose the file's encoding "
                    "(Excel's \u201cCSV UTF-8\u201d is UTF-8; its \u201cCSV (comma "
                    "delimited)\u201d on Windows is Windows-1252)."
                ).format(line=row, charset=charset["charset"])
            ]
        bom = _BOM.search(message)
        if bom:
            return [
                gettext(
                    "The file begins with the UTF-8 byte order mark but {charset} was "
                    "chosen: choose UTF-8."
                ).format(charset=bom["charset"])
            ]
    if isinstance(exc, UnsupportedMediaType) and "UTF-16" in str(exc.detail):
        return [
            gettext(
                "The file is UTF-16 text, which is not accepted: save it from Excel as "
                "\u201cCSV UTF-8\u201d and upload it again."
            )
        ]
    if isinstance(exc, PayloadTooLarge):
        line = _LONG_LINE.search(str(exc.detail))
        if line:
            return [
                gettext("Line {line} is too long: a row may have at most 64 KiB.").format(
                    line=line["line"]
                )
            ]
        return [
            gettext("The file is larger than this feed's limit of {limit}.").format(limit=limit)
        ]
    if isinstance(exc, MessageInProgress):
        return [
            gettext(
                "This same file is being received right now: wait a few seconds and "
                "upload it again to see its receipt."
            )
        ]
    if isinstance(exc, MessageIdReused):
        return [gettext("A different file was received before under this message id.")]
    for error in errors:
        document = _DOCUMENT.fullmatch(str(error.get("message", "")))
        if document:
            return [
                gettext("The file is not a valid {kind} document: {why}").format(
                    kind=document["kind"], why=document["why"]
                )
            ]
    return [gettext("The file was refused: {detail}").format(detail=exc.detail)]


def _header(error: dict[str, Any], gettext: Translate) -> str | None:
    """One problem of a CSV header line, naming the column, or None if not one."""
    field = str(error.get("field", ""))
    message = str(error.get("message", ""))
    if field == "body" and message.startswith("no row"):
        return gettext("The file has no rows.")
    if field == "body.header":
        return gettext(
            "The first line does not name this feed's columns: the file must begin with "
            "a header line naming them, separated by commas, semicolons or tabs."
        )
    position = _COLUMN.fullmatch(field)
    if position:
        named = _NOT_A_FIELD.match(message)
        name = named["name"].strip("'") if named and named["name"].startswith("'") else ""
        if not name:
            return gettext("Column {position} has no name.").format(position=position["position"])
        return gettext(
            "Column {position} (\u201c{name}\u201d) is not a column of this feed."
        ).format(position=position["position"], name=name)
    if field.startswith("body.header."):
        column = field.removeprefix("body.header.")
        if message == "missing":
            return gettext("The column \u201c{column}\u201d is missing.").format(column=column)
        if message == "repeated":
            return gettext("The column \u201c{column}\u201d appears more than once.").format(
                column=column
            )
    return None
