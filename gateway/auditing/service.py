"""Running the sealer inside the gateway, and the synchronous jobs (verify, archive)
that the CLI and the auditors' API share."""

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
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keys: AuditKeys,
        policy: SealPolicy,
        interval_seconds: float,
    ) -> None:
        self.sessions = sessions
        self.keys = keys
        self.policy = policy
        self.interval = interval_seconds
        self.head_seq = 0

    async def seal_now(self) -> SealResult:
        """Seal until nothing is left that can be sealed now."""
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

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.seal_now()
            except Exception as exc:  # a concurrent sealer or a busy database: next round
                log.warning("audit sealing round failed", error=type(exc).__name__)


def verify(
    database_url: str,
    from_seq: int | None = None,
    to_seq: int | None = None,
    workers: int = 1,
) -> Report:
    """``workers`` > 1 splits a large chain between processes (the CLI; not inside the
    server, whose worker processes must not start children)."""
    url = sync_url(database_url)
    engine = create_sync_engine(url)
    try:
        with engine.begin() as conn:
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
