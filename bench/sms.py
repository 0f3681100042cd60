"""SMS reminders per second: SMPP submissions straight to the sandbox SMSC, and the
same through the gateway's dispatch (claim, sealed phone opened, submit, message id and
audit event committed per reminder), on SQLite or PostgreSQL.

The operator's window (messages per second) is set far above both figures, so that
what is measured is the cost of a reminder, not the pacing.

    .venv/bin/python -m bench.sms [--messages 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from prometheus_client import CollectorRegistry

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


async def through_gateway(port: int, n: int, database_url: str, var_dir: Path) -> float:
    settings = Settings(
        env="sandbox", database_url=database_url, var_dir=var_dir, exchanges_worker=False
    )
    settings.partners.smsc = smsc_settings(port)
    await asyncio.to_thread(migrate.upgrade, database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state = app.state.gateway
        run = uuid.uuid4().hex[:8]  # keys of this run only: a reused database holds others
        rows = [
            {"reminder_key": f"bench:{run}:{i:08d}", "dni": f"4{i:07d}", "phone": f"9{i:08d}"}
            for i in range(n)
        ]
        async with transaction(state.sessions) as session:
            accepted = await state.reminders.accept(
                session, "bench", "health-follow-up", "law-29733-art14", str(uuid.uuid4()),
                "pending-service", rows,
            )  # fmt: skip
        started = time.perf_counter()
        while await state.jobs.dispatch("sms-reminders"):
            pass
        elapsed = time.perf_counter() - started
        async with transaction(state.sessions) as session:
            view = await state.reminders.view(session, accepted.batch["id"])
        sent = view["reminders"] - view["queued"]
    return sent / elapsed


async def main_async(n: int, database_url: str | None) -> None:
    mock = SmscMock("bench", "bench", SmscFaults(receipt_delay_ms=50))
    server = await mock.start("127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        print(describe())
        rate_direct = await direct(port, n)
        print(f"direct SMPP submit_sm (one at a time): {rate_direct:,.0f} messages/s")
        with tempfile.TemporaryDirectory() as tmp:
            url = database_url or f"sqlite:///{tmp}/bench.db"
            rate = await through_gateway(port, n, url, Path(tmp))
        kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(
            f"through the gateway ({kind}): {rate:,.0f} reminders/s "
            f"({rate / rate_direct:.2f} of direct)"
        )
    finally:
        server.close()
        await mock.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2_000)
    parser.add_argument("--database-url", default=None, help="a scratch database (migrated)")
    args = parser.parse_args()
    asyncio.run(main_async(args.messages, args.database_url))


if __name__ == "__main__":
    main()
