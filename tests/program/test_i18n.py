"""The programme's catalogs: every message marked in ``program/`` has a Spanish
translation, and the English catalog holds the same messages."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from rich.console import Console

import program
from program.demo import LiveProgress, QuietProgress
from program.i18n import LOCALE_DIR, LOCALES, N_, translations

ROOT = Path(program.__file__).resolve().parent


def _extracted() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), [("**.py", "python")], keywords=DEFAULT_KEYWORDS
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def _catalog(locale: str) -> dict[str, object]:
    entries: dict[str, object] = {}
    for po in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as source:
            for message in read_po(source, locale=locale):
                if message.id:
                    assert not message.fuzzy, f"{po.name}: fuzzy entry {message.id!r}"
                    entries[str(message.id)] = message.string
    return entries


def test_every_marked_message_has_a_spanish_translation() -> None:
    spanish = _catalog("es")
    extracted = _extracted()
    assert len(extracted) > 100  # the extraction does see the report's messages
    missing = {m: where for m, where in extracted.items() if not spanish.get(m)}
    assert not missing, f"not translated into Spanish (program/locale/es): {missing}"


def test_english_holds_the_same_messages_as_spanish() -> None:
    assert set(_catalog("en")) == set(_catalog("es"))


def test_spanish_is_the_default() -> None:
    assert LOCALES[0] == "es"
    assert translations("xx") is translations("es")
    assert translations("es").gettext("Affiliation funnel") == "Embudo de afiliación"
    assert translations("en").gettext("Affiliation funnel") == "Affiliation funnel"


def test_the_steps_are_told_in_the_readers_language(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's progress lines: the step and its summary from the catalog, whole
    numbers grouped as the language groups them."""
    for locale, line in (
        ("es", "  Verificaciones al cierre del mes, noviembre de 2020: 12,345 con una "
               "prestación pendiente\n"),
        ("en", "  Verdicts at the month's end, November 2020: 12,345 missing an item\n"),
    ):  # fmt: skip
        QuietProgress(locale=locale).finish(
            "verdicts 2020-11", N_("{count} missing an item"), count=12_345
        )
        assert capsys.readouterr().out == line
    QuietProgress().finish("audit verify", N_("chain intact: {events} events"), events=3)
    assert capsys.readouterr().out == (
        "  Verificación de la cadena de auditoría: cadena íntegra: 3 eventos\n"
    )


def test_the_live_display_written_to_a_file_keeps_each_steps_whole_line() -> None:
    """Without a terminal (the demo's output sent to a file), no bars and no line cut at
    the console's width: each finished step is printed whole."""
    out = io.StringIO()
    live = LiveProgress(Console(file=out, width=40), "es")
    with live.progress:
        live.finish(
            "accounts",
            N_("{opened} opened, {held} already held, {refused} refused (holder deceased)"),
            opened=428_492,
            held=13_812,
            refused=76,
        )
    assert out.getvalue() == (
        "Cuentas: abiertas 428,492, ya existentes 13,812, rechazadas por titular fallecida 76\n"
    )
