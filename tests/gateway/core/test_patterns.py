"""The contract's regular expressions in words (``gateway.core.patterns``)."""

from __future__ import annotations

import pytest
import yaml

from gateway.core.patterns import describe_pattern
from gateway.settings import REPO_ROOT

# Each pattern, then how it reads in English and in Spanish.
READINGS = r"""
^[0-9]{6}$
    6 characters (0–9)
    6 caracteres (0–9)
^\d{8}$
    8 characters (0–9)
    8 caracteres (0–9)
^[0-9]{1,12}$
    1 to 12 characters (0–9)
    de 1 a 12 caracteres (0–9)
^[0-9a-f]{64}$
    64 characters (0–9, a–f)
    64 caracteres (0–9, a–f)
^[A-Za-z0-9_-]{1,40}$
    1 to 40 characters (A–Z, a–z, 0–9, _ -)
    de 1 a 40 caracteres (A–Z, a–z, 0–9, _ -)
^[A-Z]{2}\.[0-9]+$
    2 characters (A–Z), then “.”, then one or more characters (0–9)
    2 caracteres (A–Z), luego «.», luego uno o más caracteres (0–9)
^9[0-9]{8}$
    “9”, then 8 characters (0–9)
    «9», luego 8 caracteres (0–9)
^[a-z]{0,3}$
    up to 3 characters (a–z)
    hasta 3 caracteres (a–z)
^[a-z]{2,}$
    2 or more characters (a–z)
    2 o más caracteres (a–z)
^[a-z]{1,}$
    one or more characters (a–z)
    uno o más caracteres (a–z)
^[a-z ]+$
    one or more characters (a–z, space)
    uno o más caracteres (a–z, espacio)
^x{0,1}$
    at most one character (x)
    a lo sumo un carácter (x)
^x{1,1}$
    one character (x)
    un carácter (x)
^x{3,3}$
    3 characters (x)
    3 caracteres (x)
^x?[a-z]*$
    at most one character (x), then any number of characters (a–z)
    a lo sumo un carácter (x), luego cualquier cantidad de caracteres (a–z)
"""


def _readings() -> list[tuple[str, str, str]]:
    lines = READINGS.strip().splitlines()
    return [(lines[n], lines[n + 1].strip(), lines[n + 2].strip()) for n in range(0, len(lines), 3)]


@pytest.mark.parametrize(("pattern", "english", "spanish"), _readings())
def test_a_counted_run_of_classes_reads_in_both_languages(
    pattern: str, english: str, spanish: str
) -> None:
    described = describe_pattern(pattern)
    assert described is not None
    assert (described.render("en"), described.render("es")) == (english, spanish)


@pytest.mark.parametrize(
    "pattern",
    [
        r"^(19|2[0-9])[0-9]{2}$",  # groups and alternation
        r"^[^x]+$",  # a negated class
        r"^\w+$",  # a class escape other than \d
        r"^[a-z]{3,1}$",  # an impossible count
        r"^x{0,0}$",  # nothing at all
        r"^[\.-z]+$",  # a range from an escaped character
        r"[a-z]+",  # not anchored
        r"^.+$",  # any character
        r"^$",
    ],
)
def test_any_other_pattern_is_left_to_be_shown_as_written(pattern: str) -> None:
    assert describe_pattern(pattern) is None


def test_every_pattern_of_the_contract_a_reader_can_be_refused_by_reads_in_words() -> None:
    """Each ``pattern`` of the published contract is described, except the two whose
    refusals have their own message (a document number's check character, a period)."""
    contract = yaml.safe_load((REPO_ROOT / "contracts/gateway/openapi.yaml").read_text())
    patterns: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern" and isinstance(value, str):
                    patterns.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(contract)
    assert len(patterns) >= 10
    shown = {p for p in patterns if describe_pattern(p) is None}
    assert shown == {r"^[0-9]{8}(-?[0-9A-Ka-k])?$", r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"}
