"""A refused row's reason in a person's language.

The intake (``gateway.inbound.feeds``, ``gateway.identifiers``, ``gateway.districts``,
``gateway.inbound.reading`` and the bank adapter's status check) words each reason in
English and stores it so in the message's rejections, never with a value from the
body. ``reason`` reads one in a locale: each known reason is a message id here (``N_``,
in the ``agent`` catalog), and a reason with a number or a code in it (a length, a count
of columns) is matched by a pattern whose named groups fill the translated text. A
reason not known here is shown as the intake wrote it, so nothing is hidden when the
intake learns a new one. The API's push answers (``gateway.inbound.intake``) and the
console's receipts both read them through here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gateway.core.i18n import N_, Text

Translate = Callable[[str], str]


# Reasons a row is refused, as the intake words them (exact).
REASONS = frozenset(
    {
        N_("required"),
        N_("expected text"),
        N_("expected a date YYYY-MM-DD"),
        N_("not a day of the calendar"),
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
        N_("not valid JSON"),
        N_("not a field of this feed"),
        N_("repeated"),
        N_("not readable as CSV"),
        N_("a quoted value is not closed"),
        N_("an ISO 20022 status code (ACSC, RJCT, PDNG, ...)"),
        # a document refused whole (adapters.xml, adapters.bn.iso20022)
        N_("XML with a DOCTYPE or entity declaration is refused"),
        N_("XML with a DOCTYPE is refused"),
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
    # A document refused whole: the parser's or the schema validator's own words (libxml2)
    # stay as they are, the sentence around them is translated.
    (
        re.compile(r"malformed XML at line (?P<line>\d+), column (?P<column>\d+): (?P<said>.*)"),
        N_("malformed XML at line {line}, column {column}: {said}"),
    ),
    (
        re.compile(r"expected a Document of (?P<names>[\w., ]+)"),
        N_("expected a Document of {names}"),
    ),
    (
        re.compile(r"(?P<name>\S+) does not follow its schema"),
        N_("{name} does not follow its schema"),
    ),
    (
        re.compile(
            r"(?P<name>\S+) invalid at (?P<where>\S+) \(line (?P<line>\d+)\): "
            r"the value breaks the '(?P<facet>\w+)' facet of its type"
        ),
        N_(
            "{name} invalid at {where} (line {line}): the value breaks the '{facet}' facet "
            "of its type"
        ),
    ),
    (
        re.compile(
            r"(?P<name>\S+) invalid at (?P<where>\S+) \(line (?P<line>\d+)\): "
            r"the value is not a valid (?P<type>\S+)"
        ),
        N_("{name} invalid at {where} (line {line}): the value is not a valid {type}"),
    ),
    (
        re.compile(
            r"(?P<name>\S+) invalid at (?P<where>\S+) \(line (?P<line>\d+)\): (?P<rule>.*)",
            re.DOTALL,
        ),
        N_("{name} invalid at {where} (line {line}): {rule}"),
    ),
)


def reason_text(message: str) -> str | Text:
    """A reason as a ``Text`` translated where it is read (``render``), or the intake's
    own text when it is not one known here."""
    if message in REASONS:
        return Text(message)
    for pattern, msgid in PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return Text(msgid, **match.groupdict())
    return message


def reason(message: str, gettext: Translate) -> str:
    """A row's reason through ``gettext`` (the intake's text when unknown)."""
    text = reason_text(message)
    if isinstance(text, Text):
        return gettext(text.message).format(**text.params)
    return text
