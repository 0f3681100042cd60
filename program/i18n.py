"""The programme's text for people (the operation's report), in Spanish first and English
on request: GNU gettext catalogs ``program/locale/<locale>/LC_MESSAGES/<domain>.po``.

The programme is a client of the gateway and imports none of its code, so it keeps its
own catalogs, read the way the gateway reads its own: message ids are the English text,
``.po`` files are compiled in memory with Babel at first use (no ``.mo`` committed), and
every domain of a locale is merged into one ``babel.support.Translations``.

``tests/program/test_i18n.py`` fails when a message marked in ``program/`` (``_()``,
``gettext()``, ``ngettext()``, ``N_()``) lacks a Spanish translation or when the Spanish and
English catalogs hold different messages.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DEFAULT_LOCALE = "es"
LOCALES: tuple[str, ...] = ("es", "en")
BABEL_LOCALES = {"es": "es_PE", "en": "en"}
"""The CLDR locale used for numbers, money and dates in each language: Peruvian Spanish
(``S/``, comma for thousands); English."""


def N_(message: str) -> str:  # noqa: N802 (the gettext convention for a deferred mark)
    """Mark ``message`` for extraction without translating it now."""
    return message


def translations(locale: str) -> Translations:
    """Every domain's catalog for ``locale`` merged into one; an unknown locale gets
    Spanish. Raises ``babel.messages.pofile.PoFileError`` for a malformed ``.po``."""
    return _load(locale if locale in LOCALES else DEFAULT_LOCALE)


@functools.cache
def _load(locale: str) -> Translations:
    merged = Translations()
    for po in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=locale, domain=po.stem)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)  # fuzzy entries are left out, as msgfmt does
        buffer.seek(0)
        merged.merge(Translations(buffer, domain=po.stem))
    return merged
