"""The published results of the DU 095-2020 operation, and the keys of a run's summary.

Source: the operation's reported results (December 2020 to February 2021), as summarised
in the domain notes: 442,618 households affiliated (100% of the target), 442,605 paid
the first transfer (99.99%), 429,296 savings accounts opened (the others already held a
Cuenta DNI), 161,893 debit cards delivered, 662,605 transfers of S/ 200
(S/ 132,521,000), 50% of households compliant by February 2021, 48% of children flagged
"very high" priority on the semáforo list, 660,000 SMS reminders in November and
December 2020 (218,876 and 441,124), 1,594 districts at 15% poverty or more (the 2018
poverty map; the district table read here has 1,591 at that threshold).

``SUMMARY_KEYS`` are the counts every run's summary carries (``demo --summary PATH``
writes them as JSON, beside ``PUBLISHED`` under the key ``published``). Counts are
households unless the name says children; ``transferred_soles`` is soles.
"""

from __future__ import annotations

from typing import Final

SUMMARY_KEYS: Final = (
    "eligible",
    "households_affiliated",
    "first_transfer_paid",
    "accounts_opened",
    "cards_delivered",
    "transferred_soles",
    "compliant_households",
    "semaforo_children",
    "very_high_priority_children",
    "sms_sent",
    "districts_covered",
)

PUBLISHED: Final[dict[str, int]] = {
    "eligible": 442_618,
    "households_affiliated": 442_618,
    "first_transfer_paid": 442_605,
    "accounts_opened": 429_296,
    "cards_delivered": 161_893,
    "transferred_soles": 132_521_000,
    "transfers": 662_605,
    "compliant_households_pct": 50,
    "very_high_priority_children_pct": 48,
    "sms_sent": 660_000,
    "sms_sent_november": 218_876,
    "sms_sent_december": 441_124,
    "districts_covered": 1_594,
    "field_specialists": 695,
}
"""The published figures. Shares are whole percentages (``*_pct``); the rest are
counts, or soles for ``transferred_soles``."""
