"""The bank's card-delivery extract: a stand-in file layout (``contracts/bn/card-deliveries.md``).

Banco de la Nación reports the debit cards it has handed over as a periodic extract, the
way banks report to a paying entity: a CSV file for a range of delivery dates, served in
parts of at most ``MAX_ROWS`` lines. The mock writes it with :func:`write_extract`, the
adapter reads it with :func:`read_extract`.

Layout (UTF-8, comma-separated, ``\\n`` line ends, one header line)::

    numeroDocumento,numeroCuenta,fechaEntrega
    45123456,412345678901,2021-01-14

``numeroDocumento`` the holder's DNI (8 digits), ``numeroCuenta`` the Cuenta DNI number
(12 digits), ``fechaEntrega`` the delivery date (ISO 8601). Lines are ordered by
``fechaEntrega`` then ``numeroCuenta``; the response header ``X-Siguiente`` carries the
offset of the next part and is absent on the last one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date

from gateway.identifiers import is_ascii_digits
from gateway.partners.models import CardDelivery

COLUMNS = ("numeroDocumento", "numeroCuenta", "fechaEntrega")
MEDIA_TYPE = "text/csv"
NEXT_HEADER = "X-Siguiente"
MAX_ROWS = 5_000


class ExtractError(ValueError):
    """The extract does not follow the layout; the message names the line and column,
    never a value."""


def write_extract(rows: Iterable[CardDelivery]) -> str:
    """The CSV text of these deliveries, header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow((r.dni, r.account_number, r.delivered_on.isoformat()))
    return out.getvalue()


def read_extract(text: str) -> list[CardDelivery]:
    """The deliveries of one part of the extract; :class:`ExtractError` on the first
    line that breaks the layout."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise ExtractError(f"line 1: the header is not {','.join(COLUMNS)}")
    out = []
    for row in reader:
        line = reader.line_num
        if len(row) != len(COLUMNS):
            raise ExtractError(f"line {line}: {len(row)} fields where {len(COLUMNS)} are due")
        dni, number, day = row
        if not is_ascii_digits(dni, 8):
            raise ExtractError(f"line {line}: numeroDocumento is not 8 digits")
        if not is_ascii_digits(number):
            raise ExtractError(f"line {line}: numeroCuenta is not digits")
        try:
            delivered = date.fromisoformat(day)
        except ValueError:
            raise ExtractError(f"line {line}: fechaEntrega is not a date YYYY-MM-DD") from None
        out.append(CardDelivery(dni, number, delivered))
    return out
