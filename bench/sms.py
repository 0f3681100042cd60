"""SMS reminders per second: SMPP submissions straight to the sandbox SMSC, and the
same through the gateway's dispatch (claim, sealed phone opened, submit, message id and
audit event committed per reminder), on SQLite or PostgreSQL.

The operator's window (messages per second) is set far above both figures, so that
what is measured is the cost of a reminder, not the pacing.

    .venv/bin/python -m bench.sms [--messages 2000] [--database-url URL] [--backlog N]
                                  [--receipt-delay-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.smsc.client import SmscAdapter
from adapters.smsc.faults import SmscFaults
from adapters.smsc.mock import SmscMock
from adapters.smsc.settings import SmscSettings
from bench._machine import describe
from gateway import migrate
from gateway.app import create_app
from gateway.core.db import transaction
from gateway.partners.health import PartnerHealth
from gateway.partners.resilience import PartnerGuard
from gateway.reminders.jobs import CHUNK
from gateway.reminders.models import Reminder
from gateway.settings import Settings


def smsc_settings(port: int) -> SmscSettings:
    return SmscSettings(
        base_url=f"smpp://127.0.0.1:{port}",
        system_id="bench",
        password="bench",
        messages_per_second=10_000.0,
        sending_from_hour=0,
        sending_to_hour=24,
    )


async def direct(port: int, n: int) -> float:
    settings = smsc_settings(port)
    client = SmscAdapter(
        settings, PartnerGuard("smsc", settings, PartnerHealth(CollectorRegistry()))
    )
    started = time.perf_counter()
    for i in range(n):
        await client.submit(f"9{i:08d}", "JUNTOS: prueba", resend=False)
    elapsed = time.perf_counter() - started
    await client.aclose()
    return n / elapsed


async def through_gateway(
    port: int, n: int, database_url: str, var_dir: Path, backlog: int = 0
) -> tuple[float, float]:
    """Reminders per second sent (accepted by the SMSC), and sent with their receipts
    stored."""
    settings = Settings(
        env="sandbox", database_url=database_url, var_dir=var_dir, exchanges_worker=False
    )
    settings.partners.smsc = smsc_settings(port)
    await asyncio.to_thread(migrate.upgrade, database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state = app.state.gateway
        run = uuid.uuid4().hex[:8]  # keys of this run only: a reused database holds others
        total = n + backlog
        for start in range(0, total, 5_000):  # as the programme asks: 5,000 per batch
            rows = [
                {"reminder_key": f"bench:{run}:{i:08d}", "dni": f"4{i:07d}", "phone": f"9{i:08d}"}
                for i in range(start, min(total, start + 5_000))
            ]
            async with transaction(state.sessions) as session:
                await state.reminders.accept(
                    session, "bench", "health-follow-up", "law-29733-art14",
                    str(uuid.uuid4()), "pending-service", rows,
                )  # fmt: skip
        if backlog:
            print(f"queued {total:,} reminders; sending {n:,} of them")
        queued_before = await queued(state.sessions)
        started = time.perf_counter()
        chunks = 0
        while chunks * CHUNK < n:
            called = await state.jobs.dispatch("sms-reminders")
            if not called:
                break
            chunks += called
        elapsed = time.perf_counter() - started
        sent = queued_before - await queued(state.sessions)
        # Then until every accepted reminder has its receipt stored (at most a minute more:
        # a cap counted from the start would cut a long sending's receipts short, and
        # those the SMSC still owes when the gateway stops would count as sent again).
        ended = time.perf_counter()
        while await queued(state.sessions, "submitted") and time.perf_counter() - ended < 60:
            await asyncio.sleep(0.05)
        settled = time.perf_counter() - started
    return sent / elapsed, sent / settled


async def queued(sessions: async_sessionmaker[AsyncSession], state: str = "queued") -> int:
    """Reminders in ``state`` in the whole database (one reused for several runs holds
    others)."""
    async with transaction(sessions) as session:
        found = await session.execute(
            select(func.count()).select_from(Reminder).where(Reminder.state == state)
        )
        return int(found.scalar_one())


async def main_async(
    n: int, database_url: str | None, backlog: int = 0, receipt_delay_ms: float = 50.0
) -> None:
    print(describe())
    # The direct submissions go to an SMSC of their own, sending no receipts: theirs
    # would reach the gateway's bind and be refused there, over and over.
    alone = SmscMock("bench", "bench", SmscFaults(receipts=False))
    server = await alone.start("127.0.0.1", 0)
    try:
        rate_direct = await direct(int(server.sockets[0].getsockname()[1]), n)
    finally:
        server.close()
        await alone.stop()
    print(f"direct SMPP submit_sm (one at a time): {rate_direct:,.0f} messages/s")
    mock = SmscMock("bench", "bench", SmscFaults(receipt_delay_ms=receipt_delay_ms))
    server = await mock.start("127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = database_url or f"sqlite:///{tmp}/bench.db"
            before = mock.counts["deliver_sm_again"]
            rate, settled = await through_gateway(port, n, url, Path(tmp), backlog)
        kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(
            f"through the gateway ({kind}): {rate:,.0f} reminders/s "
            f"({rate / rate_direct:.2f} of direct); with their receipts stored: "
            f"{settled:,.0f} reminders/s, {mock.counts['deliver_sm_again'] - before:,} "
            f"receipts sent again (the gateway had not stored their submission yet)"
        )
    finally:
        server.close()
        await mock.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--database-url", default=None, help="a scratch database (migrated)")
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        help="reminders queued beyond --messages, left unsent: the national run's queue",
    )
    parser.add_argument(
        "--receipt-delay-ms",
        type=float,
        default=50.0,
        help="the sandbox SMSC's delay from acceptance to the receipt",
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.messages, args.database_url, args.backlog, args.receipt_delay_ms))


if __name__ == "__main__":
    main()
