"""What the intake says about a pushed file, in the words of the agent who uploaded it.

The intake (``gateway.inbound``) stores its row errors in English and never with a value
from the body: a row number, a field or column name, and a reason; the reasons are read
in a person's language by ``gateway.inbound.reasons`` (for the API's answers and these
pages alike). This module words the refusals of a whole file for the agent who uploaded
it.

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
from gateway.inbound.reasons import reason

Translate = Callable[[str], str]


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for a marked message
    """Mark ``message`` for extraction; translated where it is shown."""
    return message


_COLUMN = re.compile(r"body\.header\.column(?P<position>\d+)")
_NOT_A_FIELD = re.compile(r"(?P<name>'.*'|an empty name|a name not shown) is not a field")
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
                    kind=document["kind"], why=reason(document["why"], gettext)
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
        said = named["name"] if named else ""
        if not said.startswith("'"):
            if said == "a name not shown":  # it may be a value of the row (a DNI)
                return gettext("Column {position} is not a column of this feed.").format(
                    position=position["position"]
                )
            return gettext("Column {position} has no name.").format(position=position["position"])
        name = said[1:-1]
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
