"""Names compared the way a registry clerk reads them, not byte for byte.

A caller declares a person's names as its own system holds them; RENIEC answers them as
the registry writes them (upper case, with Ñ and accents, ``D'ANGELO``, ``DE LA CRUZ``).
A clerk who reads both does not count a difference in case, accents, the tilde of Ñ,
apostrophes, hyphens, dots or repeated blanks as a different name; any other letter is.

Source: RENIEC writes names in upper case Spanish (``consultar``'s ``apPrimer``,
``apSegundo``, ``prenombres``); Unicode normalisation forms from UAX #15.
"""

from __future__ import annotations

import unicodedata

# Marks a clerk reads past: apostrophes of every keyboard, and word separators.
_DROPPED = dict.fromkeys(map(ord, "'’‘`´ʼ"), None)
_SEPARATORS = dict.fromkeys(map(ord, "-‐‑–—.,_/"), " ")


def clerk_form(text: str) -> str:
    """``text`` as compared: compatibility forms folded (NFKC: full-width letters),
    upper case, accents and the tilde dropped (NFKD without combining marks),
    apostrophes dropped, hyphens, dots and commas read as blanks, blanks collapsed.

    >>> clerk_form("  d’Ángelo-Peña ")
    'DANGELO PENA'
    """
    folded = unicodedata.normalize("NFKC", text).upper()
    folded = folded.translate(_DROPPED).translate(_SEPARATORS)
    decomposed = unicodedata.normalize("NFKD", folded)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.split())


def same_name(declared: str, recorded: str) -> bool:
    """True when a clerk would read ``declared`` and ``recorded`` as the same name."""
    return clerk_form(declared) == clerk_form(recorded)
