"""Reading a pushed body the way partners' exports write it.

A streamed push is ``application/x-ndjson`` or ``text/csv`` (RFC 4180). What this module
guarantees, for every feed:

- Charset: the ``charset`` parameter of the Content-Type is honoured (UTF-8, US-ASCII,
  ISO-8859-1 and Windows-1252 under any alias Python's codec registry knows, case
  insensitive); any other is refused with 415 naming it; none means UTF-8. A leading
  UTF-8 byte order mark is dropped; one in a body declared otherwise, and a UTF-16 (or
  UTF-32) byte order mark, are refused: every field of every feed is Latin text, so a
  partner re-exports as UTF-8 (Excel's "CSV UTF-8") rather than the gateway guessing.
  A line that is not text in the body's charset refuses the message, naming the line.
- Separator (CSV): declared with the ``delimiter`` query parameter (``comma``,
  ``semicolon``, ``tab``) or detected by :class:`csv.Sniffer` restricted to those three
  over the first lines (at most 20 lines and 2 KiB), else the one the header line holds
  most of (a short row among the first lines leaves the sniffer undecided); RFC 4180
  quoting otherwise (``"`` quotes, ``""`` escapes, quoted values may span lines).
  ``header=absent`` (RFC 4180's parameter) is refused: each feed needs its header line.
- Header (CSV): the first non-blank record must name exactly the feed's fields, matched
  case-insensitively after trimming, in any order; empty trailing columns are ignored.
  Otherwise the whole message is refused (422 naming each missing, unknown or repeated
  column) before any row is kept.
- Keys (NDJSON): a line's key that is not one of the feed's fields, or a key repeated
  in the line, refuses that line (``json`` would keep the last value unseen).
- Names in errors: a column name or a key is quoted only when :func:`nameable` (a
  name, not a possible value such as a DNI); otherwise by its position.
- Values: CRLF, LF or CR line ends (Excel for Mac's "CSV (Macintosh)" ends lines with a
  carriage return alone), surrounding blanks trimmed, empty trailing columns ignored,
  blank lines and rows of empty cells skipped.
- Row numbers are physical line numbers in the body (a CSV header is line 1; a quoted
  value spanning lines is numbered by its first line), so a partner finds the row in the
  file it sent.
- Limits: a line (or a CSV record) longer than ``max_row_bytes``, or a body longer than
  ``max_message_bytes``, refuses the message with 413; memory stays bounded by one block
  of the stream plus one row.

Errors name lines, columns and fields, never a value (rows carry DNIs and CUIs).

The module is kept whole at about 400 lines on purpose: it is one reader (charset, line
splitting, CSV records, header matching) whose rules above interlock on the same byte
stream and are read and tested together; it holds no state and no SQL.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from email.message import Message
from typing import Any, Literal

from gateway.core.i18n import N_, Text
from gateway.core.jsonbody import KeysWritten, no_constant, object_pairs
from gateway.core.limits import nameable, named_key
from gateway.core.problems import (
    BadRequest,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMediaType,
    ValidationFailed,
)

NDJSON, CSV = "application/x-ndjson", "text/csv"
SNIFF_LINES = 20
SNIFF_CHARS = 2 * 1024
Delimiter = Literal["comma", "semicolon", "tab"]
DELIMITERS: dict[str, str] = {"comma": ",", "semicolon": ";", "tab": "\t"}
# Python codec name -> the IANA name a partner reads in an error.
CHARSETS = {
    "utf-8": "UTF-8",
    "ascii": "US-ASCII",
    "iso8859-1": "ISO-8859-1",
    "cp1252": "Windows-1252",
}
_ACCEPTED = Text("UTF-8, ISO-8859-1 or Windows-1252")
_SHOWN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:+()-]{0,63}$")

#: (line number, the row or None, its errors as (field, message)): a row-level error is
#: ("row", why) with no row; an NDJSON line's key errors come with its row.
Row = tuple[int, dict[str, Any] | None, list[tuple[str, str]]]


@dataclass(frozen=True)
class BodyFormat:
    """How to read a body: media type, Python codec, CSV delimiter (None: detect)."""

    media: str
    encoding: str = "utf-8"
    delimiter: str | None = None


@dataclass(frozen=True)
class Limits:
    """Bytes per line (or CSV record) and per message."""

    max_row_bytes: int = 64 * 1024
    max_message_bytes: int = 1024 * 1024 * 1024


def _unsupported(message: str | Text) -> ProblemError:
    return UnsupportedMediaType(
        message,
        extra={"errors": [{"field": "header.content-type", "message": message}]},
    )


def _shown(name: str) -> str:
    """A client-chosen charset name fit to quote in an error."""
    return repr(name) if _SHOWN.match(name) else "(unreadable)"


def _key_errors(value: dict[str, Any], fields: frozenset[str]) -> list[tuple[str, str]]:
    """An NDJSON line's keys that are not the feed's fields, and its repeated keys: each
    named when :func:`nameable`, else by its position in the line (``key3``)."""
    written = value.written if isinstance(value, KeysWritten) else None
    if written is None and value.keys() == fields:
        return []  # the common line: each field once
    errors: list[tuple[str, str]] = []
    repeated: list[tuple[str, str]] = []
    seen: set[str] = set()
    for position, key in enumerate(written or list(value), start=1):  # as written
        named = named_key(key, position)
        if key in seen:
            repeated.append((named, "repeated"))
        elif key not in fields:
            errors.append((named, "not a field of this feed"))
        seen.add(key)
    return errors + repeated


def body_format(content_type: str, delimiter: Delimiter | None = None) -> BodyFormat:
    """The format a Content-Type (RFC 9110 media type with parameters) declares.

    Raises 415 ``unsupported-media-type`` for another media type, an unsupported charset
    or ``header=absent``; 422 for a ``delimiter`` on an NDJSON body.
    """
    parsed = Message()
    parsed["content-type"] = content_type
    media = parsed.get_content_type() if content_type.strip() else ""
    if media not in (NDJSON, CSV):
        raise _unsupported(Text("send {ndjson} or {csv}", ndjson=NDJSON, csv=CSV))
    encoding = "utf-8"
    charset = parsed.get_param("charset")
    if charset is not None:
        name = str(charset).strip()
        try:
            encoding = codecs.lookup(name).name
        except LookupError:
            encoding = ""
        if encoding not in CHARSETS:
            raise _unsupported(
                Text(
                    "charset {charset} is not accepted; send {accepted}",
                    charset=_shown(name),
                    accepted=_ACCEPTED,
                )
            )
    header = parsed.get_param("header")
    if media == CSV and header is not None and str(header).strip().lower() != "present":
        raise _unsupported(
            N_("a header line naming the feed's fields is required (header=present)")
        )
    if delimiter is not None and media != CSV:
        raise ValidationFailed(
            Text("invalid fields: {fields}", fields="query.delimiter"),
            extra={
                "errors": [
                    {"field": "query.delimiter", "message": Text("applies to {csv} only", csv=CSV)}
                ]
            },
        )
    return BodyFormat(media, encoding, DELIMITERS[delimiter] if delimiter else None)


def _strip_bom(data: bytes, form: BodyFormat) -> bytes:
    if data.startswith(codecs.BOM_UTF8):
        if form.encoding != "utf-8":
            raise _body_error(
                1,
                Text(
                    "the body begins with a UTF-8 byte order mark but declares charset {charset}",
                    charset=CHARSETS[form.encoding],
                ),
            )
        return data[len(codecs.BOM_UTF8) :]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _unsupported(
            Text(
                "the body begins with a UTF-16 byte order mark; UTF-16 is not accepted, "
                "send {accepted} (Excel: save as 'CSV UTF-8')",
                accepted=_ACCEPTED,
            )
        )
    return data


def _body_error(line: int, message: Text) -> ProblemError:
    return BadRequest(
        Text("line {line}: {message}", line=line, message=message),
        extra={"errors": [{"field": "body", "row": line, "message": message}]},
    )


def _too_large(message: Text) -> ProblemError:
    return PayloadTooLarge(message)


Lines = tuple[int, list[bytes]]  # the number of the first line, then the lines


async def _lines(
    stream: AsyncIterator[bytes], form: BodyFormat, digest: Any, limits: Limits
) -> AsyncIterator[Lines]:
    """The body's complete physical lines, a batch per block, without their line feed (a
    carriage return stays). The body's leading byte order mark is handled; every byte goes
    through ``digest``; a line over the row limit or a body over the message limit
    raises 413."""
    pending = b""
    number = 1
    size = 0
    opened = False
    async for block in stream:
        digest.update(block)
        size += len(block)
        if size > limits.max_message_bytes:
            raise _too_large(
                Text("a message is limited to {limit:,} bytes", limit=limits.max_message_bytes)
            )
        pending += block
        if not opened:
            if len(pending) < len(codecs.BOM_UTF8):
                continue
            pending = _strip_bom(pending, form)
            opened = True
        if b"\r" in pending:
            pending = _lone_carriage_returns(pending)
        long = len(pending) > limits.max_row_bytes
        *complete, pending = pending.split(b"\n")
        if long and max([len(pending), *map(len, complete)]) > limits.max_row_bytes:
            for offset, raw in enumerate([*complete, pending]):
                if len(raw) > limits.max_row_bytes:
                    raise _too_large(
                        Text(
                            "line {line} is longer than {limit:,} bytes",
                            line=number + offset,
                            limit=limits.max_row_bytes,
                        )
                    )
        if complete:
            yield number, complete
            number += len(complete)
    if not opened:
        pending = _strip_bom(pending, form)
    if pending.endswith(b"\r"):  # the last line's own end, a carriage return alone
        pending = pending[:-1]
    if pending:
        yield number, [pending]


# A line ended by a carriage return alone: "CSV (Macintosh)" as Excel for Mac writes it.
_LONE_CR = re.compile(rb"\r(?!\n)")


def _lone_carriage_returns(pending: bytes) -> bytes:
    """``pending`` with each carriage return that ends a line alone made a line feed; a
    carriage return last in ``pending`` waits for the next block (it may be a CRLF's)."""
    if pending.endswith(b"\r"):
        return _LONE_CR.sub(b"\n", pending[:-1]) + b"\r"
    return _LONE_CR.sub(b"\n", pending)


def _decode(chunk: bytes, first: int, encoding: str) -> str:
    """``chunk`` (lines joined by line feeds, the first numbered ``first``) as text; a
    line that is not text in ``encoding`` refuses the message, naming the line."""
    try:
        return chunk.decode(encoding)
    except UnicodeDecodeError as error:
        raise _body_error(
            first + chunk.count(b"\n", 0, error.start),
            Text(
                "not valid {charset} text; declare the body's charset in the "
                "Content-Type ({accepted})",
                charset=CHARSETS[encoding],
                accepted=_ACCEPTED,
            ),
        ) from None


async def rows_of(
    stream: AsyncIterator[bytes],
    form: BodyFormat,
    fields: tuple[str, ...],
    digest: Any,
    limits: Limits,
) -> AsyncIterator[Row]:
    """(line number, row or None, why not) for each row of an NDJSON or CSV body.

    Raises :class:`ProblemError` for what refuses the whole message (see the module).
    """
    lines = _lines(stream, form, digest, limits)
    if form.media == NDJSON:
        known = frozenset(fields)
        rows = 0
        async for first, batch in lines:
            text = _decode(b"\n".join(batch), first, form.encoding)
            for number, line in enumerate(text.split("\n"), start=first):
                if not line.strip():
                    continue
                rows += 1
                try:
                    value = json.loads(
                        line,
                        object_pairs_hook=object_pairs,
                        parse_constant=no_constant,
                        parse_float=Decimal,  # 1.10 stays 1.10, 1e400 is not inf
                    )
                except (ValueError, RecursionError):  # RecursionError: nested too deep
                    yield number, None, [("row", "not valid JSON")]
                    continue
                if isinstance(value, dict):
                    yield number, value, _key_errors(value, known)
                else:
                    yield number, None, [("row", "not a JSON object")]
        if not rows:
            # Like a CSV body without its header: refused whole, the message id stays free.
            raise ValidationFailed(
                Text("invalid fields: {fields}", fields="body"),
                extra={"errors": [{"field": "body", "message": N_("no row: the body is empty")}]},
            )
        return
    async for row in _csv_rows(lines, form, fields, limits):
        yield row


def _columns(cells: list[str], fields: tuple[str, ...]) -> list[str]:
    """The feed field each column carries, from the header line; refuses the message
    (422) when the header does not name exactly the feed's fields."""
    names = [c.strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    wanted = {f.lower(): f for f in fields}
    lowered = [n.lower() for n in names]
    listing = ", ".join(fields)
    if not any(n in wanted for n in lowered):
        message = Text(
            "the first line names none of this feed's fields ({fields}); send a header "
            "line first, columns separated by comma, semicolon or tab",
            fields=listing,
        )
        raise ValidationFailed(
            Text("invalid fields: {fields}", fields="body.header"),
            extra={"errors": [{"field": "body.header", "message": message}]},
        )
    errors: list[dict[str, str | Text]] = []
    for field in fields:
        if field.lower() not in lowered:
            errors.append({"field": f"body.header.{field}", "message": N_("missing")})
    seen: set[str] = set()
    for position, (name, low) in enumerate(zip(names, lowered, strict=True), start=1):
        if low in wanted and low in seen:
            errors.append({"field": f"body.header.{wanted[low]}", "message": N_("repeated")})
        elif low not in wanted:
            errors.append(
                {
                    "field": f"body.header.column{position}",
                    "message": Text(
                        "{name} is not a field of this feed ({fields})",
                        name=repr(name)
                        if nameable(name)
                        else Text("a name not shown")
                        if name
                        else Text("an empty name"),
                        fields=listing,
                    ),
                }
            )
        seen.add(low)
    if errors:
        raise ValidationFailed(
            Text("invalid fields: {fields}", fields=", ".join(str(e["field"]) for e in errors)),
            extra={"errors": errors},
        )
    return [wanted[n] for n in lowered]


def _sniff(text: str) -> str:
    """The separator of the first lines; the sample is cut at a line end within
    ``SNIFF_CHARS`` (the sniffer's regular expressions are not linear). When the sniffer
    finds none (a short or long row among the first lines makes every candidate
    inconsistent), the one the header line holds most of, ``,`` when it holds none."""
    if len(text) > SNIFF_CHARS:
        cut = text.rfind("\n", 0, SNIFF_CHARS)
        text = text[: cut if cut > 0 else SNIFF_CHARS]
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t").delimiter
    except csv.Error:
        header = next((line for line in text.split("\n") if line.strip()), "")
        counts = {candidate: header.count(candidate) for candidate in ",;\t"}
        best = max(counts, key=lambda candidate: counts[candidate])
        return best if counts[best] else ","


def _records(text: str, first: int, delimiter: str) -> Iterator[tuple[int, list[str] | None]]:
    """(number of its first line, cells or None when unreadable) for each CSV record of
    ``text``, whose first line is numbered ``first``; the standard ``csv`` module reads,
    with RFC 4180 quoting and blanks after a separator skipped."""
    source = io.StringIO(text, newline="\n")
    while True:
        reader = csv.reader(source, delimiter=delimiter, skipinitialspace=True)
        before = 0
        try:
            for cells in reader:
                yield first + before, cells
                before = reader.line_num
        except csv.Error:  # e.g. a lone CR in an unquoted value; go on after it
            yield first + before, None
            first += reader.line_num
            continue
        return


def _balanced(batch: list[bytes]) -> int:
    """How many of ``batch``'s lines end at a record boundary: an odd count of quotes
    leaves a quoted value open into the next line (RFC 4180 doubles quotes inside)."""
    if not b"".join(batch).count(b'"') % 2:
        return len(batch)
    quotes, end = 0, 0
    for index, raw in enumerate(batch, start=1):
        quotes += raw.count(b'"')
        if not quotes % 2:
            end = index
    return end


async def _csv_rows(
    lines: AsyncIterator[Lines],
    form: BodyFormat,
    fields: tuple[str, ...],
    limits: Limits,
) -> AsyncIterator[Row]:
    delimiter = form.delimiter
    columns: list[str] | None = None
    carried: list[bytes] = []  # lines of a record whose quoted value is still open
    first = 1

    def rows(batch: list[bytes], start: int) -> Iterator[Row]:
        nonlocal columns
        assert delimiter is not None
        text = _decode(b"\n".join(batch) + b"\n", start, form.encoding)
        for number, cells in _records(text, start, delimiter):
            if cells is None:
                yield number, None, [("row", "not readable as CSV")]
                continue
            values = list(map(str.strip, cells))
            if not any(values):
                continue
            if columns is None:
                columns = _columns(values, fields)
                continue
            if len(values) != len(columns):
                width = len(columns)
                if len(values) > width and not any(values[width:]):
                    del values[width:]
                else:
                    found = f"expected {width} columns, found {len(values)}"
                    yield number, None, [("row", found)]
                    continue
            yield number, dict(zip(columns, values, strict=True)), []

    async for start, batch in lines:
        if carried:
            batch, start, carried = carried + batch, first, []
        if delimiter is None:
            if start + len(batch) <= SNIFF_LINES:
                carried, first = batch, start  # the separator is sniffed on the first lines
                continue
            delimiter = _sniff(_decode(b"\n".join(batch[:SNIFF_LINES]), start, form.encoding))
        end = _balanced(batch)
        carried, first = batch[end:], start + end
        if sum(map(len, carried)) > limits.max_row_bytes:
            raise _too_large(
                Text(
                    "line {line} opens a quoted value longer than {limit:,} bytes",
                    line=first,
                    limit=limits.max_row_bytes,
                )
            )
        for row in rows(batch[:end], start):
            yield row
    if delimiter is None:
        delimiter = _sniff(_decode(b"\n".join(carried), first, form.encoding))
    if carried:
        end = _balanced(carried)
        for row in rows(carried[:end], first):
            yield row
        if end < len(carried):
            yield first + end, None, [("row", "a quoted value is not closed")]
    if columns is None:
        _columns([], fields)
