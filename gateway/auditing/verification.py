"""Verifying the audit chain a stretch at a time, so that a person watching it sees it
advance: the console runs one stretch per request and shows how far it got.

Checking stretch by stretch proves what one pass proves (``audit.verify``): the first
stretch starts where one pass starts (the last archive, or the genesis hash); each next
one is anchored on the stored hash of the event just before it, which the stretch
before compared with the hash it recomputed; every stretch but the last must hold every
event up to its end (none deleted); the last one runs to the end of the log and makes
the truncation checks. Stretches end at or below the sealed head taken when the
verification started, so none ends inside the not-yet-sealed tail.

The state between stretches is a plain value (:class:`ChainCheck`), kept by the caller
(the console carries it, signed, from one request to the next), so a verification
survives being served by several processes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from audit.verify import Report
from gateway.auditing.service import verify

STRETCH = 100_000  # events per step: well under a second on either database


@dataclass(frozen=True)
class ChainCheck:
    """A verification in progress or finished.

    ``low``/``sealed_head``: the lowest stored event and the highest chained one when
    it started (None: none); ``total``: how many events were stored then (progress);
    ``next_from``: where the next stretch starts (None: at the beginning); ``done``:
    finished, and then ``ok`` or the ``first_broken_seq`` and ``reason``. The counts
    add up over the stretches checked so far."""

    low: int | None
    sealed_head: int | None
    total: int
    next_from: int | None = None
    done: bool = False
    ok: bool = True
    events_checked: int = 0
    checkpoints_checked: int = 0
    archives_checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    unsealed: int = 0
    first_broken_seq: int | None = None
    reason: str | None = None
    head_hash: str | None = None

    @property
    def percent(self) -> int:
        """How far it got, 0 to 100 (100 only when done)."""
        if self.done:
            return 100
        if not self.total:
            return 0
        return min(99, self.events_checked * 100 // self.total)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ChainCheck:
        """Raises ``TypeError`` for a dict that is not an ``as_dict``."""
        return cls(**values)


def start(low: int | None, high: int | None, sealed_head: int | None) -> ChainCheck:
    """A verification of the log whose stored events run from ``low`` to ``high`` and
    are chained up to ``sealed_head`` (``gateway.auditing.repository.chain_extent``)."""
    total = 0 if low is None or high is None else high - low + 1
    return ChainCheck(low=low, sealed_head=sealed_head, total=total)


def step(database_url: str, check: ChainCheck, stretch: int = STRETCH) -> ChainCheck:
    """Check the next stretch of up to ``stretch`` events; the state after it.

    Synchronous and blocking (its own connection): run it in a worker thread."""
    if check.done:
        return check
    begin = check.next_from if check.next_from is not None else (check.low or 1)
    end = begin + stretch - 1
    last = check.sealed_head is None or end >= check.sealed_head
    report: Report = verify(database_url, check.next_from, None if last else end)
    state = replace(
        check,
        events_checked=check.events_checked + report.events_checked,
        checkpoints_checked=check.checkpoints_checked + report.checkpoints_checked,
        archives_checked=(
            report.archives_checked if check.next_from is None else check.archives_checked
        ),
        first_seq=check.first_seq if check.first_seq is not None else report.first_seq,
        last_seq=report.last_seq if report.last_seq is not None else check.last_seq,
        unsealed=report.unsealed,
    )
    if not report.ok:
        return replace(
            state,
            done=True,
            ok=False,
            first_broken_seq=report.first_broken_seq,
            reason=report.reason,
        )
    if last:
        return replace(state, done=True, head_hash=report.head_hash)
    if report.last_seq != end:
        missing = (report.last_seq or begin - 1) + 1
        return replace(
            state,
            done=True,
            ok=False,
            first_broken_seq=missing,
            reason=f"events {missing} to {end} are missing (deleted)",
        )
    return replace(state, next_from=end + 1)
