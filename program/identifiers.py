"""The programme's own checks of identifiers it reads or receives (it is a client of the
gateway and shares no code with it)."""

from __future__ import annotations


def is_ascii_digits(value: str, length: int | None = None) -> bool:
    """Whether ``value`` is ASCII digits only (of ``length`` when given); ``str.isdigit``
    would also accept other scripts' digits and superscripts."""
    if length is not None and len(value) != length:
        return False
    return value != "" and all("0" <= c <= "9" for c in value)
