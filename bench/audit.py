"""Audit log throughput: appends with 1, 8 and 32 concurrent writers, sealing, and
verification over one million events, on SQLite and PostgreSQL.

Each writer appends one event at a time and waits until it is durably committed (the
gateway's fail-closed path, through the group-commit writer). Writers run as tasks of one
process, or split between processes, each with its own writer, as several gateway
processes on one database are. Each figure is the median of three runs (lowest and
highest in brackets). The baseline, measured in the same run on the same database, is
the bulk ceiling: the same rows inserted 1,000 per statement by one writer that does not
wait for anything.

    .venv/bin/python -m bench.audit [--postgres URL] [--seconds 5] [--verify-events 1000000]

``--postgres`` names a server where a scratch database is created and dropped
(default postgresql://postgres@127.0.0.1:5432/postgres; ``--no-postgres`` to skip).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
import uuid

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text

from audit.events import AuditEvent
from audit.sealer import Ed25519Signer, SealPolicy, seal
from audit.store import append_alone
from audit.verify import verify_database
from audit.writer import GroupCommitWriter
from bench._harness import add_database_options, databases
from bench._machine import describe
from gateway import migrate
from gateway.core.db import create_engine, session_factory, sync_url, transaction

SIGNER = Ed25519Signer.generate("bench")
KEYS = {SIGNER.key_id: SIGNER.private_key.public_key()}


def event(n: int) -> AuditEvent:
    return AuditEvent(
        request_id=f"{uuid.UUID(int=n)}",
        client_id=f"cl_{n % 50:016x}",
        service="reniec.person",
        purpose="affiliation",
        subjects=[f"{n:064x}"],
        fields=["dni", "first_surname", "second_surname", "given_names", "address"],
        legal_basis="du-095-2020-art6",
        partner="reniec",
        operation="consultar",
        roles=["consumer"],
        request_digest=f"{n:064x}",
        response_digest=f"{n + 1:064x}",
        request_bytes=120,
        response_bytes=512,
        latency_ms=12.5,
    )


async def appends(url: str, writers: int, seconds: float, in_flight: int = 1) -> float:
    writer = GroupCommitWriter(create_engine(url), max_in_flight=in_flight)
    stop = time.perf_counter() + seconds
    counts = [0] * writers

    async def one(k: int) -> None:
        n = k
        while time.perf_counter() < stop:
            await writer.write(event(n))
            counts[k] += 1
            n += writers

    started = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(writers)))
    elapsed = time.perf_counter() - started
    await writer.aclose()
    return sum(counts) / elapsed


def _append_process(job: tuple[str, int, float, int, float]) -> float:
    url, writers, seconds, in_flight, start = job
    time.sleep(max(0.0, start - time.time()))  # every process starts together
    return asyncio.run(appends(url, writers, seconds, in_flight))


def append_rate(url: str, writers: int, processes: int, in_flight: int, seconds: float) -> float:
    """Events/s with ``writers`` writers split evenly between ``processes`` processes."""
    if processes == 1:
        return asyncio.run(appends(url, writers, seconds, in_flight))
    context = multiprocessing.get_context("spawn")
    start = time.time() + 3  # time for the children to import
    job = (url, writers // processes, seconds, in_flight, start)
    with context.Pool(processes) as pool:
        return sum(pool.map(_append_process, [job] * processes))


def bulk_load(url: str, total: int, start: int = 0) -> float:
    """Insert events 1,000 per statement, the group-commit writer's own statement, one
    statement after another with nobody waiting on them; returns events/s."""

    async def load() -> float:
        engine = create_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        started = time.perf_counter()
        async with engine.connect() as conn:
            for base in range(start, start + total, 1000):
                top = min(base + 1000, start + total)
                await append_alone(conn, [event(n) for n in range(base, top)])
        elapsed = time.perf_counter() - started
        await engine.dispose()
        return total / elapsed

    return asyncio.run(load())


async def seal_everything(url: str) -> tuple[int, float]:
    sessions = session_factory(create_engine(url))
    policy = SealPolicy(checkpoint_every=10_000, checkpoint_seconds=3600, batch=20_000)
    sealed = 0
    started = time.perf_counter()
    while True:
        async with transaction(sessions) as session:
            result = await seal(session, SIGNER, policy)
        sealed += result.sealed
        if not result.more:
            break
    elapsed = time.perf_counter() - started
    await sessions.kw["bind"].dispose()
    return sealed, sealed / elapsed if elapsed else 0.0


def verify_rate(url: str, workers: int) -> tuple[float, int, bool]:
    engine = create_sync_engine(sync_url(url))
    started = time.perf_counter()
    with engine.connect() as conn:
        report = verify_database(
            conn, KEYS, workers=workers, engine_url=sync_url(url).render_as_string(False)
        )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return report.events_checked / elapsed, report.events_checked, report.ok


def clear(url: str) -> None:
    """Empty the audit tables between runs (PostgreSQL: TRUNCATE, so no run inherits the
    dead rows and grown indexes of the one before)."""
    engine = create_sync_engine(sync_url(url))
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for table in ("audit_chain", "audit_checkpoints", "audit_events", "sqlite_sequence"):
                conn.execute(text(f"DELETE FROM {table}"))
        else:
            conn.execute(
                text("TRUNCATE audit_chain, audit_checkpoints, audit_events RESTART IDENTITY")
            )
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.execute(text("VACUUM"))
    engine.dispose()


def run_backend(name: str, url: str, seconds: float, verify_events: int) -> None:
    migrate.upgrade(url)
    ceiling = bulk_load(url, 50_000)
    print(f"\n== {name} ==")
    print(f"bulk insert ceiling (1 writer, 1,000 rows per statement, no wait): {ceiling:,.0f}/s")
    for writers, processes, in_flight in ((1, 1, 1), (8, 1, 1), (32, 1, 1), (32, 1, 2), (32, 2, 1)):
        rates = []
        for _ in range(3):
            clear(url)
            rates.append(append_rate(url, writers, processes, in_flight, seconds))
        rate = statistics.median(rates)
        print(
            f"appends, {writers:>2} writers in {processes} process{'es' if processes > 1 else '  '}"
            f", {in_flight} commit(s) in flight: {rate:>7,.0f} events/s "
            f"[{min(rates):,.0f}-{max(rates):,.0f}] ({rate / ceiling:.2f}x the ceiling)"
        )
    clear(url)
    load = bulk_load(url, verify_events)
    sealed, seal_rate = asyncio.run(seal_everything(url))
    print(
        f"loaded {verify_events:,} events at {load:,.0f}/s; sealed {sealed:,} at {seal_rate:,.0f}/s"
    )
    for workers in (1, 2):
        rate, checked, ok = verify_rate(url, workers)
        print(
            f"verification, {workers} process{'es' if workers > 1 else ''}: {checked:,} events "
            f"at {rate:,.0f} events/s ({'intact' if ok else 'BROKEN'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--verify-events", type=int, default=1_000_000)
    add_database_options(parser)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    for name, url in databases(args, "audit"):
        run_backend(name, url, args.seconds, args.verify_events)


if __name__ == "__main__":
    main()
