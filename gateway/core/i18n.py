"""Text meant for a person, in Spanish first and English on request (GNU gettext catalogs).

Message ids are the English text; ``gateway/locale/<locale>/LC_MESSAGES/<domain>.po``
holds the translations, one ``.po`` per area (``console``, ``problems``, ``cli``, ...)
so that areas do not share one file. The ``.po`` files are read and compiled in memory
with Babel at first use (no compiled ``.mo`` is committed); every domain of a locale is
merged into one ``babel.support.Translations``.

    t = translations("es")
    t.gettext("Sign in")            # "Iniciar sesión"
    t.ngettext("{n} row", "{n} rows", 3).format(n=3)

Locale choice (``negotiate``): an explicit choice (the console's language switch, a
``lang`` cookie) wins, then the HTTP ``Accept-Language`` header (RFC 9110 §12.5.4), then
Spanish. Only ``LOCALES`` are offered.

Extraction: ``pybabel extract -F babel.cfg`` finds ``_()``, ``gettext()``, ``ngettext()``
and ``lazy_gettext()`` in Python and ``{% trans %}`` / ``_()`` in Jinja2 templates; the
test ``tests/gateway/core/test_i18n.py`` fails when a message in code or templates is
missing from a catalog or has no Spanish translation.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from pathlib import Path

from babel.core import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DEFAULT_LOCALE = "es"
LOCALES: tuple[str, ...] = ("es", "en")


def translations(locale: str) -> Translations:
    """Every domain's catalog for ``locale`` merged into one; unknown locales get Spanish.

    Raises ``babel.messages.pofile.PoFileError`` for a malformed ``.po`` (at first use).
    """
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


def gettext(message: str, locale: str = DEFAULT_LOCALE) -> str:
    """``message`` (English id) in ``locale``; the id itself when untranslated."""
    return translations(locale).gettext(message)


def ngettext(singular: str, plural: str, n: int, locale: str = DEFAULT_LOCALE) -> str:
    """The singular or plural form for ``n`` in ``locale``."""
    return translations(locale).ngettext(singular, plural, n)


def lazy_gettext(message: str, locale: str = DEFAULT_LOCALE) -> LazyProxy:
    """A string translated when first used (for module-level constants)."""
    return LazyProxy(gettext, message, locale, enable_cache=False)


def negotiate(
    accept_language: str | None, chosen: str | None = None, offered: Iterable[str] = LOCALES
) -> str:
    """The locale to answer in: ``chosen`` if offered, else the best ``Accept-Language``
    match (quality values honoured; ``es-PE`` matches ``es``), else Spanish."""
    offered = tuple(offered)
    if chosen in offered:
        return chosen
    if accept_language:
        ranked: list[tuple[float, int, str]] = []
        for index, part in enumerate(accept_language.split(",")):
            tag, _, params = part.strip().partition(";")
            quality = 1.0
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key == "q":
                    try:
                        quality = float(value)
                    except ValueError:
                        quality = 0.0
            if tag and quality > 0:
                ranked.append((-quality, index, tag.strip()))
        for _, _, tag in sorted(ranked):
            if tag == "*":
                return offered[0]
            try:
                language = Locale.parse(tag.replace("-", "_")).language
            except (ValueError, UnknownLocaleError):
                continue
            if language in offered:
                return language
    return offered[0]
