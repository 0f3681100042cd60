"""What a reminder says: Spanish by default, from the gettext catalogs (``sms`` area).

A reminder reveals no health detail: it names no vaccine, supplement, diagnosis or
service, only that the child has a pending service at the health facility, so a phone
shared in the household or read over a shoulder tells nothing more. It carries the
opt-out instruction. The Spanish text keeps to the GSM 03.38 default alphabet (no
acute accents but ``é``; ``ñ`` is in it), so that it travels as one 160-character
message instead of 70-character UCS-2 parts; a text past 160 septets would be sent as
concatenated parts by the SMSC adapter.
"""

from __future__ import annotations

from gateway.core.i18n import translations

#: The templates a batch may name.
TEMPLATES = ("pending-service",)

#: Replies that opt a phone out of reminders (case and spaces ignored).
STOP_WORDS = frozenset({"BAJA", "STOP", "SALIR", "NO"})


def reminder_text(template: str, locale: str = "es") -> str:
    """The text of ``template`` in ``locale`` (Spanish unless English is asked);
    KeyError for an unknown template."""
    t = translations(locale)
    if template == "pending-service":
        return t.gettext(
            "JUNTOS: your child has a pending service at the health facility. Please go "
            "with your DNI. To stop these messages reply BAJA."
        )
    raise KeyError(template)


def is_stop_word(text: str) -> bool:
    return text.strip().strip(".!").upper() in STOP_WORDS
