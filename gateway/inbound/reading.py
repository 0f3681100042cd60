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
  over the first lines; RFC 4180 quoting otherwise (``"`` quotes, ``""`` escapes, quoted
  values may span lines). ``header=absent`` (RFC 4180's parameter) is refused: each feed
  needs its header line.
- Header (CSV): the first non-blank record must name exactly the feed's fields, matched
  case-insensitively after trimming, in any order; empty trailing columns are ignored.
  Otherwise the whole message is refused (422 naming each missing, unknown or repeated
  column) before any row is kept.
- Values: CRLF or LF line ends, surrounding blanks trimmed, empty trailing columns
  ignored, blank lines and rows of empty cells skipped.
- Row numbers are physical line numbers in the body (a CSV header is line 1; a quoted
  value spanning lines is numbered by its first line), so a partner finds the row in the
  file it sent.
- Limits: a line (or a CSV record) longer than ``max_row_bytes``, or a body longer than
  ``max_message_bytes``, refuses the message with 413; memory stays bounded by one block
  of the stream plus one row.

Errors name lines, columns and fields, never a value (rows carry DNIs and CUIs).
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message
from typing import Any, Literal

from gateway.core.errors import ProblemError

NDJSON, CSV = "application/x-ndjson", "text/csv"
SNIFF_LINES = 20
Delimiter = Literal["comma", "semicolon", "tab"]
DELIMITERS: dict[str, str] = {"comma": ",", "semicolon": ";", "tab": "\t"}
# Python codec name -> the IANA name a partner reads in an error.
CHARSETS = {
    "utf-8": "UTF-8",
    "ascii": "US-ASCII",
    "iso8859-1": "ISO-8859-1",
    "cp1252": "Windows-1252",
}
_ACCEPTED = "UTF-8, ISO-8859-1 or Windows-1252"
_SHOWN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:+()-]{0,63}$")

Row = tuple[int, dict[str, Any] | None, str | None]


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


def _unsupported(message: str) -> ProblemError:
    return ProblemError(
        "unsupported-media-type",
        message,
        extra={"errors": [{"field": "header.content-type", "message": message}]},
    )


def _shown(name: str) -> str:
    """A client-chosen name fit to quote in an error (a charset, a column name)."""
    return repr(name) if _SHOWN.match(name) else "(unreadable)"


def body_format(content_type: str, delimiter: Delimiter | None = None) -> BodyFormat:
    """The format a Content-Type (RFC 9110 media type with parameters) declares.

    Raises 415 ``unsupported-media-type`` for another media type, an unsupported charset
    or ``header=absent``; 422 for a ``delimiter`` on an NDJSON body.
    """
    parsed = Message()
    parsed["content-type"] = content_type
    media = parsed.get_content_type() if content_type.strip() else ""
    if media not in (NDJSON, CSV):
        raise _unsupported(f"send {NDJSON} or {CSV}")
    encoding = "utf-8"
    charset = parsed.get_param("charset")
    if charset is not None:
        name = str(charset).strip()
        try:
            encoding = codecs.lookup(name).name
        except LookupError:
            encoding = ""
        if encoding not in CHARSETS:
            raise _unsupported(f"charset {_shown(name)} is not accepted; send {_ACCEPTED}")
    header = parsed.get_param("header")
    if media == CSV and header is not None and str(header).strip().lower() != "present":
        raise _unsupported("a header line naming the feed's fields is required (header=present)")
    if delimiter is not None and media != CSV:
        raise ProblemError(
            "validation-error",
            "invalid fields: query.delimiter",
            extra={"errors": [{"field": "query.delimiter", "message": f"applies to {CSV} only"}]},
        )
    return BodyFormat(media, encoding, DELIMITERS[delimiter] if delimiter else None)


def _strip_bom(data: bytes, form: BodyFormat) -> bytes:
    if data.startswith(codecs.BOM_UTF8):
        if form.encoding != "utf-8":
            raise _body_error(
                1,
                "the body begins with a UTF-8 byte order mark but declares "
                f"charset {CHARSETS[form.encoding]}",
            )
        return data[len(codecs.BOM_UTF8) :]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _unsupported(
            f"the body begins with a UTF-16 byte order mark; UTF-16 is not accepted, "
            f"send {_ACCEPTED} (Excel: save as 'CSV UTF-8')"
        )
    return data


def _body_error(line: int, message: str) -> ProblemError:
    return ProblemError(
        "bad-request",
        f"line {line}: {message}",
        extra={"errors": [{"field": "body", "row": line, "message": message}]},
    )


def _too_large(message: str) -> ProblemError:
    return ProblemError("payload-too-large", message)


async def _lines(
    stream: AsyncIterator[bytes], form: BodyFormat, digest: Any, limits: Limits
) -> AsyncIterator[list[tuple[int, bytes]]]:
    """The body's complete physical lines, a batch per block: (line number, raw bytes
    without the ``\\n``, with any ``\\r``). The body's leading byte order mark is handled;
    every byte goes through ``digest``."""
    pending = b""
    number = 0
    size = 0
    opened = False
    async for block in stream:
        digest.update(block)
        size += len(block)
        if size > limits.max_message_bytes:
            raise _too_large(f"a message is limited to {limits.max_message_bytes:,} bytes")
        pending += block
        if not opened:
            if len(pending) < len(codecs.BOM_UTF8):
                continue
            pending = _strip_bom(pending, form)
            opened = True
        *complete, pending = pending.split(b"\n")
        batch = []
        for raw in complete:
            number += 1
            batch.append((number, raw))
        if len(pending) > limits.max_row_bytes:
            number += 1
            raise _too_large(f"line {number} is longer than {limits.max_row_bytes:,} bytes")
        if batch:
            yield batch
    if not opened:
        pending = _strip_bom(pending, form)
    if pending:
        yield [(number + 1, pending)]


def _decode(raw: bytes, number: int, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        raise _body_error(
            number,
            f"not valid {CHARSETS[encoding]} text; declare the body's charset in the "
            f"Content-Type ({_ACCEPTED})",
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
        async for batch in lines:
            for number, raw in batch:
                if len(raw) > limits.max_row_bytes:
                    raise _too_large(f"line {number} is longer than {limits.max_row_bytes:,} bytes")
                text = _decode(raw, number, form.encoding)
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except ValueError:
                    yield number, None, "not a JSON object"
                    continue
                if isinstance(value, dict):
                    yield number, value, None
                else:
                    yield number, None, "not a JSON object"
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
        message = (
            f"the first line names none of this feed's fields ({listing}); send a header "
            "line first, columns separated by comma, semicolon or tab"
        )
        raise ProblemError(
            "validation-error",
            "invalid fields: body.header",
            extra={"errors": [{"field": "body.header", "message": message}]},
        )
    errors = []
    for field in fields:
        if field.lower() not in lowered:
            errors.append({"field": f"body.header.{field}", "message": "missing"})
    seen: set[str] = set()
    for position, (name, low) in enumerate(zip(names, lowered, strict=True), start=1):
        if low in wanted and low in seen:
            errors.append({"field": f"body.header.{wanted[low]}", "message": "repeated"})
        elif low not in wanted:
            errors.append(
                {
                    "field": f"body.header.column{position}",
                    "message": f"{_shown(name) if name else 'an empty name'} is not a field "
                    f"of this feed ({listing})",
                }
            )
        seen.add(low)
    if errors:
        raise ProblemError(
            "validation-error",
            "invalid fields: " + ", ".join(e["field"] for e in errors),
            extra={"errors": errors},
        )
    return [wanted[n] for n in lowered]


def _sniff(sample: list[str]) -> str:
    try:
        return csv.Sniffer().sniff("".join(sample), delimiters=",;\t").delimiter
    except csv.Error:
        return ","


async def _csv_rows(
    lines: AsyncIterator[list[tuple[int, bytes]]],
    form: BodyFormat,
    fields: tuple[str, ...],
    limits: Limits,
) -> AsyncIterator[Row]:
    delimiter = form.delimiter
    sample: list[tuple[int, bytes]] = []
    columns: list[str] | None = None
    record: list[str] = []  # the physical lines of a record whose quotes are still open
    record_bytes = 0
    quotes = 0
    first = 0

    def parse(lines_of_record: list[str], number: int) -> Row | None:
        nonlocal columns
        assert delimiter is not None
        try:
            cells = next(csv.reader(lines_of_record, delimiter=delimiter, skipinitialspace=True))
        except (csv.Error, StopIteration):
            return number, None, "not readable as CSV"
        values = [c.strip() for c in cells]
        if not any(values):
            return None
        if columns is None:
            columns = _columns(values, fields)
            return None
        width = len(columns)
        if len(values) > width and not any(values[width:]):
            values = values[:width]
        if len(values) != width:
            return number, None, f"expected {width} columns, found {len(values)}"
        return number, dict(zip(columns, values, strict=True)), None

    def feed_line(number: int, raw: bytes) -> Row | None:
        nonlocal record_bytes, quotes, first
        if not record:
            first, record_bytes, quotes = number, 0, 0
        record_bytes += len(raw) + 1
        if record_bytes > limits.max_row_bytes:
            raise _too_large(f"line {first} is longer than {limits.max_row_bytes:,} bytes")
        quotes += raw.count(b'"')
        record.append(_decode(raw, number, form.encoding) + "\n")
        if quotes % 2:
            return None  # a quoted value goes on in the next line
        done = parse(record, first)
        record.clear()
        return done

    async for batch in lines:
        if delimiter is None:
            sample.extend(batch)
            if len(sample) < SNIFF_LINES:
                continue
            batch, sample = sample, []
            delimiter = _sniff([_decode(raw, n, form.encoding) + "\n" for n, raw in batch])
        for number, raw in batch:
            row = feed_line(number, raw)
            if row is not None:
                yield row
    if delimiter is None:
        delimiter = _sniff([_decode(raw, n, form.encoding) + "\n" for n, raw in sample])
        for number, raw in sample:
            row = feed_line(number, raw)
            if row is not None:
                yield row
    if record:
        yield first, None, "a quoted value is not closed"
    if columns is None:
        _columns([], fields)
