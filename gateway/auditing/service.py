"""Sealing the audit chain inside the gateway (a periodic task of the job runner), and
the synchronous jobs (verify, archive) that the CLI and the auditors' API share."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.archive import write_archive
from audit.sealer import SealPolicy, SealResult, seal
from audit.verify import Report, verify_archives, verify_database
from gateway.auditing import repository
from gateway.auditing.checkpoint_keys import AuditKeys, public_keys_sync
from gateway.core.db import sync_url, transaction

log = structlog.get_logger("gateway.audit")


class AuditSealer:
    """Chains the audit events and signs checkpoints (``audit.sealer.seal``).

    In the server, ``step`` is the job runner's periodic task ``audit-seal`` and seals in
    the runner's session. ``seal_now`` is the command form (the ``audit seal`` CLI
    command, the last seal at shutdown after the runner has stopped, tests): it owns its
    transactions because a race with another process's sealer is retried at once in a
    fresh transaction, and a long backlog is sealed batch by batch, each committed.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keys: AuditKeys,
        policy: SealPolicy,
    ) -> None:
        self.sessions = sessions
        self.keys = keys
        self.policy = policy
        self.head_seq = 0

    async def step(self, session: AsyncSession) -> int:
        """Seal in the runner's ``session`` until nothing more can be sealed now; how many
        events were chained. A race with another process's sealer (``IntegrityError``)
        or a busy database rolls the round back; the next round reads the new head. On
        PostgreSQL a round that finds another sealer holding the lock does nothing."""
        signer = await self.keys.signer(session)
        sealed = 0
        while True:
            result = await seal(session, signer, self.policy)
            sealed += result.sealed
            if not result.locked_out:
                self.head_seq = result.head_seq
            if not result.more:
                return sealed

    async def seal_now(self) -> SealResult:
        """Seal until nothing is left that can be sealed now, committing each batch (the
        command form; see the class)."""
        total = SealResult()
        raced = 0
        while True:
            try:
                async with transaction(self.sessions) as session:
                    signer = await self.keys.signer(session)
                    result = await seal(session, signer, self.policy)
            except (IntegrityError, OperationalError):
                # Another process's sealer chained the same events first (the chain's key
                # refused the second copy) or held the database: read the new head again.
                raced += 1
                if raced > 20:
                    raise
                await asyncio.sleep(0.05 * raced)
                continue
            total.sealed += result.sealed
            total.voided += result.voided
            total.checkpoints += result.checkpoints
            total.locked_out = result.locked_out
            if not result.locked_out:
                total.head_seq = self.head_seq = result.head_seq
            if not result.more:
                return total


class RangeAfterChain(ValueError):
    """A range asked for that begins after the last chained event: nothing there is
    sealed, so nothing can be verified (not a break). ``head``: the last chained event
    (0: none)."""

    def __init__(self, head: int) -> None:
        super().__init__(f"the chain ends at event {head}")
        self.head = head


def verify(
    database_url: str,
    from_seq: int | None = None,
    to_seq: int | None = None,
    workers: int = 1,
    *,
    asked: bool = False,
) -> Report:
    """``workers`` > 1 splits a large chain between processes (the CLI; not inside the
    server, whose worker processes must not start children). ``asked``: the range is a
    person's (the CLI's options, the API's query), and one beginning past the chain's
    last event raises :class:`RangeAfterChain` instead of reporting the chain broken
    there (which it is when the range was the gateway's own, its head since cut)."""
    url = sync_url(database_url)
    engine = create_sync_engine(url)
    try:
        with engine.begin() as conn:
            if asked and from_seq is not None:
                head = repository.chain_head_sync(conn)
                if from_seq > head + 1:
                    raise RangeAfterChain(head)
            return verify_database(
                conn,
                public_keys_sync(conn),
                from_seq,
                to_seq,
                workers=workers,
                engine_url=url.render_as_string(hide_password=False),
            )
    finally:
        engine.dispose()


def verify_offline(directory: Path, public_keys: dict[str, Any]) -> Report:
    return verify_archives(directory, public_keys)


def archive(
    database_url: str,
    master_key: bytes,
    directory: Path,
    *,
    up_to: int | None = None,
    older_than_us: int | None = None,
    remove: bool = False,
) -> dict[str, Any] | None:
    engine = create_sync_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            if older_than_us is not None:
                limit = repository.last_seq_before_sync(conn, older_than_us)
                if limit is None:
                    return None
                up_to = min(limit, up_to) if up_to is not None else limit
            signer = AuditKeys(master_key).signer_sync(conn)
            return write_archive(conn, directory, signer, up_to, remove=remove)
    finally:
        engine.dispose()
