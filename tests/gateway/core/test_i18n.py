"""Catalogs: every message a person may read is translated into Spanish, and the locale a
person gets is the one they chose or their browser asks for."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from gateway.core.i18n import (
    EXTRACT_KEYWORDS,
    LOCALE_DIR,
    LOCALES,
    Text,
    gettext,
    locale_from_environment,
    negotiate,
    render,
    translations,
)

ROOT = Path(__file__).resolve().parents[3]
KEYWORDS = EXTRACT_KEYWORDS


def _extracted() -> dict[str, list[str]]:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def _catalog(locale: str) -> dict[str, object]:
    entries: dict[str, object] = {}
    for po in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=locale)
        for message in catalog:
            if message.id:
                assert not message.fuzzy, f"{po.name}: fuzzy entry {message.id!r}"
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                for msgid in ids:
                    entries[msgid] = message.string
    return entries


def _translated(string: object) -> bool:
    if isinstance(string, tuple):
        return all(string)
    return bool(string)


def test_every_message_in_code_and_templates_has_a_spanish_translation() -> None:
    spanish = _catalog("es")
    missing = {
        msgid: where for msgid, where in _extracted().items() if not _translated(spanish.get(msgid))
    }
    assert not missing, f"not translated into Spanish (gateway/locale/es): {missing}"


def test_english_catalogs_hold_the_same_messages_as_spanish() -> None:
    assert set(_catalog("en")) == set(_catalog("es"))


def test_spanish_is_the_default_and_unknown_locales_fall_back_to_it() -> None:
    assert LOCALES[0] == "es"
    assert translations("xx") is translations("es")
    assert gettext("a message no catalog holds", "es") == "a message no catalog holds"


@pytest.mark.parametrize(
    ("header", "chosen", "expected"),
    [
        (None, None, "es"),
        ("en-US,en;q=0.9", None, "en"),
        ("es-PE,es;q=0.9,en;q=0.8", None, "es"),
        ("fr-FR,en;q=0.5", None, "en"),
        ("en;q=0.2,es;q=0.8", None, "es"),
        ("de, fr", None, "es"),
        ("en;q=0", None, "es"),
        ("*", None, "es"),
        ("not a ; header ;;q=x", None, "es"),
        ("en", "es", "es"),
        ("es", "en", "en"),
        ("en", "qu", "en"),
    ],
)
def test_negotiate(header: str | None, chosen: str | None, expected: str) -> None:
    assert negotiate(header, chosen) == expected


def test_marked_problem_texts_are_extracted() -> None:
    found = _extracted()
    # N_() on a class attribute, Text() with parameters at a raise site.
    assert "Invalid or missing bearer token" in found
    assert "invalid fields: {fields}" in found


def test_a_text_is_formatted_after_translation() -> None:
    text = Text("invalid fields: {fields}", fields="header.x-purpose")
    assert text.render("es") == "campos no válidos: header.x-purpose"
    assert text.render("en") == "invalid fields: header.x-purpose"
    assert str(text) == "invalid fields: header.x-purpose"
    assert render("Invalid or missing bearer token", "es") == "Token bearer ausente o no válido"
    assert render("a detail no catalog holds", "es") == "a detail no catalog holds"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "es"),
        ({"LANG": "C"}, "es"),
        ({"LANG": "POSIX"}, "es"),
        ({"LANG": "C.UTF-8"}, "es"),
        ({"LANG": "es_PE.UTF-8"}, "es"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "es"),
        ({"LANG": "es_PE.UTF-8", "LC_MESSAGES": "en_GB.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "es_PE.UTF-8"}, "es"),
        ({"LANG": "es_PE.UTF-8", "LANGUAGE": "fr:en"}, "en"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": ""}, "en"),
    ],
)
def test_command_line_locale_follows_the_environment(
    environ: dict[str, str], expected: str
) -> None:
    assert locale_from_environment(environ) == expected
