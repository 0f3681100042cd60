"""The hash chain: sealing in order, verification, and every kind of tampering caught."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy import create_engine as create_sync_engine

from audit.archive import write_archive
from audit.chain import row_hash
from audit.events import decode
from audit.sealer import SealPolicy, now_us
from audit.store import audit_chain, audit_checkpoints, audit_events
from audit.verify import verify_archives, verify_database
from gateway.core.db import sync_url
from tests.fixtures.audit import KEYS, SIGNER, append_events, seal_all, verify

pytestmark = pytest.mark.usefixtures("clean_database")


async def chained(url: str, count: int = 60) -> None:
    await append_events(url, count)
    result = await seal_all(url)
    assert result.sealed == count
    assert result.head_seq == count


async def test_sealed_chain_verifies_with_checkpoints(clean_database: str) -> None:
    await chained(clean_database, 60)
    report = verify(clean_database)
    assert report.ok, report
    assert (report.events_checked, report.first_seq, report.last_seq) == (60, 1, 60)
    assert report.checkpoints_checked == 6  # every 10 events
    assert report.unsealed == 0
    await append_events(clean_database, 5, start=60)
    report = verify(clean_database)
    assert report.ok
    assert report.unsealed == 5
    assert report.last_seq == 65


def _modify_outcome(conn: Connection) -> None:
    conn.execute(update(audit_events).where(audit_events.c.seq == 17).values(outcome="error"))


def _modify_body(conn: Connection) -> None:
    body = conn.execute(select(audit_events.c.body).where(audit_events.c.seq == 18)).scalar_one()
    changed = json.loads(body) | {"fields": ["dni", "given_names", "address"]}
    conn.execute(
        update(audit_events).where(audit_events.c.seq == 18).values(body=json.dumps(changed))
    )


def _delete(conn: Connection) -> None:
    conn.execute(delete(audit_events).where(audit_events.c.seq == 23))


def _delete_with_chain(conn: Connection) -> None:
    conn.execute(delete(audit_chain).where(audit_chain.c.seq == 24))
    conn.execute(delete(audit_events).where(audit_events.c.seq == 24))


def _insert(conn: Connection) -> None:
    # Make room at 35 by renumbering the later events, then slip a forged event in.
    for seq in range(60, 34, -1):
        conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(seq=seq + 1))
    forged = dict(
        conn.execute(select(audit_events).where(audit_events.c.seq == 36)).mappings().one()
    )
    conn.execute(insert(audit_events).values({**forged, "seq": 35, "client_id": "cl_forged"}))


def _reorder(conn: Connection) -> None:
    rows = {
        r["seq"]: dict(r)
        for r in conn.execute(
            select(audit_events).where(audit_events.c.seq.in_([30, 31]))
        ).mappings()
    }
    for seq, other in ((30, 31), (31, 30)):
        values = {k: v for k, v in rows[other].items() if k != "seq"}
        conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(**values))


def _truncate(conn: Connection) -> None:
    conn.execute(delete(audit_chain).where(audit_chain.c.seq > 42))
    conn.execute(delete(audit_events).where(audit_events.c.seq > 42))


def _truncate_chain_too(conn: Connection) -> None:
    conn.execute(delete(audit_events).where(audit_events.c.seq > 55))


def _rewrite_chain(conn: Connection) -> None:
    # An intruder without the signing key alters event 12 and recomputes every hash.
    _modify_outcome_at(conn, 12)
    prev = conn.execute(select(audit_chain.c.hash).where(audit_chain.c.seq == 11)).scalar_one()
    for row in (
        conn.execute(
            select(audit_events).where(audit_events.c.seq >= 12).order_by(audit_events.c.seq)
        )
        .mappings()
        .all()
    ):
        prev = row_hash(bytes(prev), row)
        conn.execute(update(audit_chain).where(audit_chain.c.seq == row["seq"]).values(hash=prev))


def _modify_outcome_at(conn: Connection, seq: int) -> None:
    conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(outcome="error"))


def _forge_checkpoint(conn: Connection) -> None:
    conn.execute(
        update(audit_checkpoints).where(audit_checkpoints.c.seq == 30).values(head_hash=bytes(32))
    )


@pytest.mark.parametrize(
    ("tamper", "first_broken", "words"),
    [
        (_modify_outcome, 17, "altered"),
        (_modify_body, 18, "altered"),
        (_delete, 23, "missing"),
        (_delete_with_chain, 24, "missing"),
        (_insert, 35, "altered"),
        (_reorder, 30, "altered"),
        (_truncate, 43, "truncated"),
        (_truncate_chain_too, 56, "truncated"),
        (_rewrite_chain, 20, "checkpoint"),
        (_forge_checkpoint, 30, "signature"),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)).strip("_"),
)
async def test_each_kind_of_tampering_is_caught(
    clean_database: str, tamper: object, first_broken: int, words: str
) -> None:
    await chained(clean_database, 60)
    report = verify(clean_database, tamper)  # type: ignore[arg-type]
    assert not report.ok
    assert report.first_broken_seq == first_broken, report
    assert words in (report.reason or ""), report
    assert verify(clean_database).ok  # the tampering was rolled back


async def test_random_tampering_is_caught_every_time(clean_database: str) -> None:
    await chained(clean_database, 80)
    rng = random.Random(2020)
    columns = ["client_id", "service", "purpose", "decision", "outcome", "subjects", "body"]
    caught = 0
    for _ in range(100):
        kind = rng.choice(["modify", "delete", "insert", "swap", "truncate", "shift"])
        seq = rng.randint(1, 79)

        def tamper(conn: Connection, kind: str = kind, seq: int = seq) -> None:
            if kind == "modify":
                column = rng.choice(columns)
                value = conn.execute(
                    select(audit_events.c[column]).where(audit_events.c.seq == seq)
                ).scalar()
                conn.execute(
                    update(audit_events)
                    .where(audit_events.c.seq == seq)
                    .values({column: f"{value}x"})
                )
            elif kind == "delete":
                conn.execute(delete(audit_events).where(audit_events.c.seq == seq))
            elif kind == "insert":  # make room at seq, then slip a forged event in
                for later in range(80, seq - 1, -1):
                    conn.execute(
                        update(audit_events)
                        .where(audit_events.c.seq == later)
                        .values(seq=later + 1)
                    )
                forged = dict(
                    conn.execute(select(audit_events).where(audit_events.c.seq == seq + 1))
                    .mappings()
                    .one()
                )
                conn.execute(insert(audit_events).values({**forged, "seq": seq}))
            elif kind == "swap":
                _swap(conn, seq, seq + 1)
            elif kind == "truncate":
                conn.execute(delete(audit_events).where(audit_events.c.seq >= seq))
                conn.execute(delete(audit_chain).where(audit_chain.c.seq >= seq))
            else:  # shift: an event renumbered to close nothing and open a hole
                conn.execute(delete(audit_events).where(audit_events.c.seq == 80))
                conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(seq=80))

        report = verify(clean_database, tamper)
        assert not report.ok, (kind, seq)
        assert report.first_broken_seq is not None
        assert report.first_broken_seq <= max(seq, 1) + 1 or kind == "truncate", (kind, seq, report)
        caught += 1
    assert caught == 100


def _swap(conn: Connection, a: int, b: int) -> None:
    rows = {
        r["seq"]: dict(r)
        for r in conn.execute(select(audit_events).where(audit_events.c.seq.in_([a, b]))).mappings()
    }
    for seq, other in ((a, b), (b, a)):
        values = {k: v for k, v in rows[other].items() if k != "seq"}
        conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(**values))


async def test_a_gap_is_waited_for_then_voided(clean_database: str) -> None:
    await append_events(clean_database, 5)
    await seal_all(clean_database)
    # A transaction took numbers 6 and 7 and rolled back: the next event is 8.
    from tests.fixtures.audit import event

    engine = create_sync_engine(sync_url(clean_database))
    with engine.begin() as conn:
        conn.execute(insert(audit_events).values({**event(8).as_row(), "seq": 8}))
    engine.dispose()
    policy = SealPolicy(checkpoint_every=10, checkpoint_seconds=0.000001, gap_grace_seconds=30)
    waiting = await seal_all(clean_database, policy)
    assert (waiting.sealed, waiting.voided, waiting.head_seq) == (0, 0, 5)
    later = await seal_all(clean_database, policy, at_us=now_us() + 31_000_000)
    assert (later.sealed, later.voided, later.head_seq) == (1, 2, 8)
    report = verify(clean_database)
    assert report.ok, report
    assert report.last_seq == 8
    engine = create_sync_engine(sync_url(clean_database))
    with engine.connect() as conn:
        voids = [
            decode(r)
            for r in conn.execute(
                select(audit_events).where(audit_events.c.decision == "void")
            ).mappings()
        ]
    engine.dispose()
    assert [v["seq"] for v in voids] == [6, 7]
    assert {v["outcome"] for v in voids} == {"sequence-gap"}


async def test_archives_verify_offline_and_chain_to_the_database(
    clean_database: str, tmp_path: Path
) -> None:
    await chained(clean_database, 45)
    engine = create_sync_engine(sync_url(clean_database))
    with engine.begin() as conn:
        first = write_archive(conn, tmp_path, SIGNER, up_to=25, remove=True)
    assert first is not None
    assert (first["first_seq"], first["last_seq"]) == (1, 20)
    await append_events(clean_database, 10, start=45)
    await seal_all(clean_database)
    with engine.begin() as conn:
        second = write_archive(conn, tmp_path, SIGNER, remove=True)
        left = conn.execute(text("SELECT count(*) FROM audit_events")).scalar()
    engine.dispose()
    assert second is not None
    assert (second["first_seq"], second["last_seq"], left) == (21, 55, 0)
    assert second["prev_hash"] == first["last_hash"]
    # With everything archived, new events chain on from the last archive.
    await append_events(clean_database, 5, start=55)
    assert (await seal_all(clean_database)).head_seq == 60

    offline = verify_archives(tmp_path, KEYS)  # nothing but the files and the public key
    assert offline.ok, offline
    assert (offline.archives_checked, offline.events_checked) == (2, 55)
    online = verify(clean_database)
    assert online.ok, online
    assert (online.archives_checked, online.first_seq, online.last_seq) == (2, 56, 60)

    # One byte changed in an archived event is caught offline.
    path = tmp_path / first["file"]
    lines = path.read_text().splitlines()
    lines[7] = lines[7].replace('"outcome":"ok"', '"outcome":"no"')
    path.write_text("\n".join(lines) + "\n")
    broken = verify_archives(tmp_path, KEYS)
    assert not broken.ok
    assert broken.first_broken_seq == 8, broken
    # A missing archive breaks the chain of manifests.
    path.unlink()
    (tmp_path / first["file"].replace(".jsonl", ".manifest.json")).unlink()
    gap = verify_archives(tmp_path, KEYS)
    assert not gap.ok
    assert gap.first_broken_seq == 1, gap


async def test_concurrent_writers_in_several_processes_make_one_chain(
    clean_database: str,
) -> None:
    import asyncio
    import sys

    from audit.events import decode

    processes, events, tasks = 4, 300, 16
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.audit.append_worker",
            clean_database,
            str(events),
            str(tasks),
            f"p{p}",
        )  # fmt: skip
        for p in range(processes)
    ]
    codes = await asyncio.gather(*(w.wait() for w in workers))
    assert codes == [0] * processes
    await seal_all(clean_database)
    report = verify(clean_database)
    assert report.ok, report
    assert report.unsealed == 0
    assert report.events_checked == processes * events  # no gap, nothing lost, no void
    engine = create_sync_engine(sync_url(clean_database))
    with engine.connect() as conn:
        rows = [decode(r) for r in conn.execute(select(audit_events)).mappings()]
        chain = conn.execute(select(audit_chain.c.seq).order_by(audit_chain.c.seq)).scalars().all()
    engine.dispose()
    assert sorted(e["request_id"] for e in rows) == sorted(
        f"p{p}-{n}" for p in range(processes) for n in range(events)
    )
    assert list(chain) == list(range(1, processes * events + 1))


@pytest.mark.parametrize("altered", [None, 30, 240, 241, 500])
async def test_verification_split_between_processes_finds_what_one_pass_finds(
    clean_database: str, altered: int | None
) -> None:
    """The chain cut into shares of 60 events, each anchored on the stored hash before
    it and taken by whichever process is free: the same verdict, first broken event and
    head as one sequential pass, wherever the alteration falls (the first share, either
    side of a cut, the very last event)."""
    await chained(clean_database, 500)
    engine = create_sync_engine(sync_url(clean_database))
    try:
        if altered is not None:  # committed: the child processes must see it
            with engine.begin() as conn:
                _modify_outcome_at(conn, altered)
        with engine.connect() as conn:
            one_pass = verify_database(conn, KEYS)
            split = verify_database(
                conn,
                KEYS,
                workers=2,
                engine_url=sync_url(clean_database).render_as_string(hide_password=False),
                share=60,
            )
    finally:
        engine.dispose()
    assert split.ok is one_pass.ok is (altered is None)
    assert split.first_broken_seq == one_pass.first_broken_seq == altered
    if altered is None:
        assert split.events_checked == one_pass.events_checked == 500
        assert split.head_hash == one_pass.head_hash


async def test_a_chain_sealed_while_it_is_verified_is_intact(clean_database: str) -> None:
    """A running gateway chains events while an auditor verifies: the events it chains
    during the walk are not counted as missing from it (the chain's end is read before
    the walk). Found under traffic: most verifications said "truncated"."""
    await chained(clean_database, 3000)
    stop = threading.Event()

    def keep_sealing() -> None:
        async def loop() -> None:
            n = 3000
            while not stop.is_set():
                await append_events(clean_database, 1, start=n)
                await seal_all(clean_database)
                n += 1

        asyncio.run(loop())

    sealer = threading.Thread(target=keep_sealing)
    sealer.start()
    try:
        reports = [verify(clean_database) for _ in range(20)]
    finally:
        stop.set()
        sealer.join()
    assert all(report.ok for report in reports), [r.reason for r in reports if not r.ok]
    assert reports[-1].events_checked > 3000
