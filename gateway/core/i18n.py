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

Text chosen before the locale is known (a problem's ``title`` and ``detail``, a receipt's
reason) is marked, not translated: ``N_("Not found")`` marks a constant and returns it
unchanged; ``Text("a message is limited to {limit:,} bytes", limit=n)`` carries the
message id and its parameters, formatted after translation by ``render(text, locale)``.
A plain ``str`` renders as its catalog entry when it has one, else as itself.

The locale of a command-line run (``locale_from_environment``) follows gettext: the first
of ``LANGUAGE`` (a colon-separated list), ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is
set; ``C``, ``POSIX`` or nothing set means Spanish.

Extraction: ``pybabel extract -F babel.cfg -k N_ -k Text -k lazy_gettext`` finds
``_()``, ``gettext()``, ``ngettext()``, ``lazy_gettext()``, ``N_()`` and ``Text()`` in
Python and ``{% trans %}`` / ``_()`` in Jinja2 templates (``EXTRACT_KEYWORDS``); the test
``tests/gateway/core/test_i18n.py`` fails when a message in code or templates is missing
from a catalog or has no Spanish translation.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from babel.core import Locale, UnknownLocaleError
from babel.messages.extract import DEFAULT_KEYWORDS
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DEFAULT_LOCALE = "es"
LOCALES: tuple[str, ...] = ("es", "en")
EXTRACT_KEYWORDS: dict[str, Any] = {
    **DEFAULT_KEYWORDS,
    "lazy_gettext": None,
    "N_": None,
    "Text": None,
}
"""The marker functions extraction looks for (Babel keyword specs: first argument)."""
NUMBER_LOCALES = {"es": "es_PE", "en": "en"}
"""The CLDR locale numbers are written in: Peruvian Spanish (``1,200``, ``0.6``) as the
programme's report writes them, not Spain's (``1.200``, ``0,6``)."""


def number_locale(locale: str) -> str:
    """The CLDR locale for numbers in ``locale`` (:data:`NUMBER_LOCALES`)."""
    return NUMBER_LOCALES.get(locale, NUMBER_LOCALES[DEFAULT_LOCALE])


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


def N_(message: str) -> str:  # noqa: N802 (the gettext convention's name)
    """Marks ``message`` for extraction and returns it unchanged; ``render`` translates it
    where the reader's locale is known."""
    return message


class Text:
    """A message id and its parameters, translated and then formatted (``str.format``)
    by ``render``; ``str()`` gives the English text (for logs and exception messages).

    Parameters are data the message names (a field, a limit), never a personal
    identifier; a parameter that is itself a ``Text`` is rendered in the same locale.
    """

    __slots__ = ("message", "params")

    def __init__(self, message: str, /, **params: Any) -> None:
        self.message = message
        self.params: Mapping[str, Any] = params

    def render(self, locale: str = DEFAULT_LOCALE) -> str:
        params = {
            key: value.render(locale) if isinstance(value, Text) else value
            for key, value in self.params.items()
        }
        return gettext(self.message, locale).format(**params)

    def __str__(self) -> str:
        return self.render("en")

    def __repr__(self) -> str:
        return f"Text({self.message!r}, **{dict(self.params)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Text):
            return (self.message, dict(self.params)) == (other.message, dict(other.params))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.message)


def render(text: str | Text, locale: str = DEFAULT_LOCALE) -> str:
    """``text`` in ``locale``: a ``Text`` translated then formatted, a ``str`` looked up in
    the catalogs (itself when no catalog holds it)."""
    if isinstance(text, Text):
        return text.render(locale)
    return gettext(text, locale) if text else text


def locale_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The locale of a command-line run, read the gettext way: ``LANGUAGE`` (each entry of
    its colon-separated list in turn), then the first of ``LC_ALL``, ``LC_MESSAGES``,
    ``LANG`` that is set (``es_PE.UTF-8`` is ``es``); ``C``, ``POSIX``, a locale not
    offered or nothing set gives Spanish."""
    env = os.environ if environ is None else environ
    for entry in env.get("LANGUAGE", "").split(":"):
        language = _language(entry)
        if language in LOCALES:
            return language
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            language = _language(value)
            return language if language in LOCALES else DEFAULT_LOCALE
    return DEFAULT_LOCALE


def _language(posix_locale: str) -> str:
    """``es_PE.UTF-8@euro`` -> ``es``; ``C`` and ``POSIX`` -> ``""``."""
    tag = posix_locale.split(".", 1)[0].split("@", 1)[0].strip()
    if tag in ("C", "POSIX"):
        return ""
    return tag.replace("-", "_").split("_", 1)[0].lower()
