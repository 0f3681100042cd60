"""The query planner's statistics of the gateway's own tables, kept fresh on PostgreSQL.

PostgreSQL plans a query from the statistics ``ANALYZE`` gathers; a table never analyzed
is planned from default guesses. For ``message_id IN (...64 ids...)`` the guess is a third
of the table, so the planner reads the whole table instead of the index: on a national
run's 656,081 reminders every batch of delivery receipts became a sequential scan, and so
did every batch of consents looked up by subject. Autovacuum gathers them on its own
schedule (a minute apart at best, and never where it is turned off); the PostgreSQL manual
asks for ``ANALYZE`` after a bulk load ("Populating a Database: Run ANALYZE Afterwards").

:func:`refresh_statistics` is that step, run by the gateway every
``GATEWAY_STATISTICS_INTERVAL_SECONDS``: it analyzes the tables of the current schema that
changed more than autovacuum's own threshold since they were last analyzed (by anyone),
so with autovacuum on and keeping up it finds nothing to do. One process at a time does
it (a transaction-scoped advisory lock; the others skip the round). SQLite plans equality
look-ups on an index without statistics: there it does nothing.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.repository import analyze, tables_due_for_analyze, try_transaction_lock

log = structlog.get_logger("gateway.statistics")

#: The advisory lock one process holds while it analyzes (an arbitrary 64-bit key).
LOCK_KEY = 0x4A554E544F53  # "JUNTOS"


async def refresh_statistics(session: AsyncSession) -> int:
    """Analyze the tables due (see the module's text) in ``session``'s transaction; how
    many were analyzed. 0 on SQLite, and when another process is analyzing.

    A database error propagates (the job runner logs its type and runs the task again at
    its next period). The threshold is autovacuum's (PostgreSQL manual, "The Autovacuum
    Daemon"), read from the server's own ``autovacuum_analyze_*`` settings."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    if not await try_transaction_lock(session, LOCK_KEY):
        return 0
    names = await tables_due_for_analyze(session)
    for name in names:
        await analyze(session, name)
    if names:
        log.info("planner statistics refreshed", tables=len(names))
    return len(names)
