r"""Regular expressions of the contract in words, for a person reading a refusal.

A field refused for its form (pydantic's ``string_pattern_mismatch``) used to be answered
with the regular expression itself: exact for a developer, unreadable for an operator.
The patterns of this contract are nearly all a run of character classes with a count
(``^[A-Za-z0-9._:-]{1,64}$``); ``describe_pattern`` turns such a pattern into catalog
text, translated like every other message:

    ^[A-Za-z0-9._:-]{1,64}$  ->  "1 to 64 characters (A–Z, a–z, 0–9, . _ : -)"
    ^[a-z][a-z0-9-]{0,63}$   ->  "one character (a–z), then up to 63 characters
                                  (a–z, 0–9, -)"

Ranges are shown as written: "letters" would tell a reader of Spanish that ñ and the
accented letters are allowed. Any other pattern (groups, alternation, a negated class,
``\w``, ``.``, a lazy quantifier, one not anchored at both ends) gives ``None``: the
caller then shows the pattern itself. The syntax read (character classes, ``\d``, an
escaped punctuation mark, ``{m}``, ``{m,n}``, ``{m,}``, ``+``, ``*``, ``?``) means the same
in ECMA-262, the dialect of JSON Schema's ``pattern`` (JSON Schema 2020-12 Validation
§6.3.3), and in the Rust ``regex`` engine pydantic-core checks it with.
"""

from __future__ import annotations

import re
from typing import TypeVar

from gateway.core.i18n import N_, Text

T = TypeVar("T")

# One atom: a character class (or a single literal character) and its quantifier.
_ATOM = re.compile(
    r"(?:\[(?P<cls>(?:\\.|[^\]\\])+)\]|(?P<digit>\\d)|(?P<lit>\\[^A-Za-z0-9]|[^\[\]\\^$.|?*+(){}]))"
    r"(?:\{(?P<min>\d+)(?P<comma>,)?(?P<max>\d+)?\}|(?P<q>[+*?]))?"
)


def describe_pattern(pattern: str) -> Text | None:
    """``pattern`` (anchored with ``^`` and ``$``) in words, or None when it is not a
    plain run of counted character classes."""
    if not (pattern.startswith("^") and pattern.endswith("$") and len(pattern) > 2):
        return None
    body, at = pattern[1:-1], 0
    atoms: list[Text] = []
    written = ""  # literal characters met one after the other, shown as they are
    while at < len(body):
        match = _ATOM.match(body, at)
        if match is None:
            return None
        at = match.end()
        if match["lit"] and not (match["q"] or match["min"]):
            written += match["lit"][-1]
            continue
        if written:
            atoms.append(Text(N_("“{text}”"), text=written))
            written = ""
        if match["cls"]:
            chars = _chars(match["cls"])
        else:
            chars = "0–9" if match["digit"] else match["lit"][-1]
        if chars is None:
            return None
        count = _counted(match, chars)
        if count is None:
            return None
        atoms.append(count)
    if written:
        atoms.append(Text(N_("“{text}”"), text=written))
    return _joined(atoms, N_("{first}, then {rest}"))


def _chars(cls: str) -> Text | str | None:
    r"""A character class's members: its ranges as written ("a–z"), then its other
    characters; None for what reads poorly in words (a negated class, ``\w``)."""
    if cls.startswith("^"):
        return None  # a negated class reads poorly in words: show the pattern
    spans: list[str] = []
    others: list[str] = []
    at = 0
    while at < len(cls):
        if cls[at : at + 2] == "\\d":
            spans.append("0-9")
            at += 2
        elif cls[at] == "\\":
            if at + 1 >= len(cls) or cls[at + 1].isalnum():
                return None  # \d, \w, \s and the like: show the pattern
            if cls[at + 2 : at + 3] == "-" and at + 3 < len(cls):
                return None  # a range from an escaped character: show the pattern
            others.append(cls[at + 1])
            at += 2
        elif at + 2 < len(cls) and cls[at + 1] == "-":
            spans.append(cls[at : at + 3])
            at += 3
        else:
            others.append(cls[at])
            at += 1
    # A range as written ("a–z": a reader of Spanish is not told "letters" where ñ and
    # the accented letters are not among them).
    names: list[Text | str] = [f"{span[0]}–{span[-1]}" for span in spans]
    if any(c != " " for c in others):
        names.append(" ".join(c for c in others if c != " "))
    if " " in others:
        names.append(Text(N_("space")))
    return _joined(names, N_("{first}, {rest}"))


def _joined(items: list[T], message: str) -> T | Text:
    """``items`` joined from the last one back, each pair by ``message`` (a catalog id
    with ``{first}`` and ``{rest}``), so each joint is translated."""
    joined: T | Text = items[-1]
    for item in reversed(items[:-1]):
        joined = Text(message, first=item, rest=joined)
    return joined


def _counted(match: re.Match[str], chars: Text | str) -> Text | None:
    quantifier, low, comma, high = match["q"], match["min"], match["comma"], match["max"]
    if quantifier == "+":
        return Text(N_("one or more characters ({chars})"), chars=chars)
    if quantifier == "*":
        return Text(N_("any number of characters ({chars})"), chars=chars)
    if quantifier == "?":
        return Text(N_("at most one character ({chars})"), chars=chars)
    if low is None:
        return Text(N_("one character ({chars})"), chars=chars)
    least = int(low)
    most = least if not comma else None if high is None else int(high)
    if most is None:
        if least == 1:
            return Text(N_("one or more characters ({chars})"), chars=chars)
        return Text(N_("{least} or more characters ({chars})"), least=least, chars=chars)
    if most < least or most == 0:
        return None
    if most == 1:
        if least == 0:
            return Text(N_("at most one character ({chars})"), chars=chars)
        return Text(N_("one character ({chars})"), chars=chars)
    if least == most:
        return Text(N_("{count} characters ({chars})"), count=least, chars=chars)
    if least == 0:
        return Text(N_("up to {most} characters ({chars})"), most=most, chars=chars)
    return Text(N_("{least} to {most} characters ({chars})"), least=least, most=most, chars=chars)
