"""What payments need from other features, as protocols (``gateway.state`` wires the
consent service in, the inbound route passes its intake): payments depend on no other
feature's classes. The consent check is the one every audited call declares
(``gateway.calls.audited.ConsentCheck``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

# A row's (field, message) errors.
RowCheck = Callable[[dict[str, Any]], list[tuple[str, str]]]


class ReportIntake(Protocol):
    async def __call__(
        self, rows: list[dict[str, Any]], check: RowCheck
    ) -> list[dict[str, Any]] | None:
        """Keep a status report's rows as the inbound message it arrived in, each row
        checked by the feed and by ``check``; the rows accepted, or None when the
        message is a resend (nothing is applied twice)."""
        ...
