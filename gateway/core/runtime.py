"""Settings of the Python runtime for the gateway's long-running processes.

CPython's cyclic garbage collector examines its youngest generation after 700
container allocations (net of deallocations), and the older generations every ten
collections of the one below. A gateway process allocates a tuple, dict or list for
nearly every row, event and message it handles, so at that pace it spends about a
tenth of its time in collections that free almost nothing (reference counting frees the
rest). 10,000 keeps the collector working on cycles while taking most of that time back:
measured with ``bench.cohort`` (``docs/benchmarks.md``).
"""

from __future__ import annotations

import gc

# Container allocations before the youngest generation is examined (CPython's default 700).
YOUNG_GENERATION_THRESHOLD = 10_000


def tune_collector() -> None:
    """Set the collector's thresholds for a long-running process: the youngest generation
    examined after :data:`YOUNG_GENERATION_THRESHOLD` allocations, the older ones at
    CPython's defaults (every ten collections of the generation below)."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)
