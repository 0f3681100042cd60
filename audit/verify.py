"""Verification of the audit chain, in the database or offline in archive files.

Every event's hash is recomputed from its stored values and the previous hash, and
compared with the stored chain; every checkpoint's signature is checked with the public
key alone and its head hash compared with the recomputed one. The report names the
first broken sequence number and why:

- modified event: its recomputed hash differs from the chain;
- deleted event: a sequence number is missing (the chain is dense, void events fill
  numbers no transaction used);
- inserted event: it has no free sequence number, so it must replace or renumber one,
  which breaks the hashes from there on;
- reordered events: hashes cover the sequence number and the previous hash;
- truncation: a signed checkpoint, or a chain row, lies beyond the last stored event;
- chain rewritten from some point on: the next signed checkpoint no longer matches.
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, func, select

from audit.chain import GENESIS, INDEX_COLUMNS, canonical, checkpoint_message, manifest_message
from audit.store import audit_archives, audit_chain, audit_checkpoints, audit_events

Row = tuple[int, bytes, bytes | None]  # seq, canonical encoding, stored hash (None: unsealed)
# Events read per fetch. An event's encoding carries its subjects: an exchange chunk's or a
# batch call's event holds hundreds of pseudonyms (tens of KB, some hundreds), and the
# early part of a chain is mostly such events, so 20,000 of them at once held several
# hundred MiB in the process verifying; 500 keep a fetch to tens of MiB.
FETCH_ROWS = 500


class Broken(Exception):
    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


@dataclass
class Report:
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
    notes: list[str] = field(default_factory=list)

    def broken(self, exc: Broken) -> Report:
        self.ok, self.first_broken_seq, self.reason = False, exc.seq, exc.reason
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key as published: base64url of the 32 raw bytes."""
    raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def _verify_signature(
    keys: Mapping[str, Ed25519PublicKey], key_id: str, signature: bytes, message: bytes
) -> bool:
    key = keys.get(key_id)
    if key is None:
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def check_chain(
    rows: Iterable[Row],
    start_seq: int,
    prev: bytes,
    checkpoints: Mapping[int, bytes],
    report: Report,
) -> bytes:
    """Walk (seq, canonical encoding, stored hash) rows in order from ``start_seq``;
    returns the head hash, raises Broken."""
    sha256 = hashlib.sha256
    expected, head, unsealed = start_seq, prev, 0
    for seq, encoded, stored in rows:
        if seq != expected:
            if seq < expected:
                raise Broken(seq, "sequence number repeated or out of order")
            raise Broken(expected, f"events {expected} to {seq - 1} are missing (deleted)")
        head = sha256(head + encoded).digest()
        if stored is None:
            unsealed += 1
        elif unsealed:
            raise Broken(seq - unsealed, "an event before a sealed one has no chain entry")
        elif head != stored:
            raise Broken(seq, "hash mismatch: the event was altered, inserted or moved")
        if checkpoints and seq in checkpoints and checkpoints[seq] != head:
            raise Broken(seq, "the signed checkpoint does not match the recomputed chain")
        expected += 1
    count = expected - start_seq
    if report.first_seq is None and count:
        report.first_seq = start_seq
    report.events_checked += count
    report.unsealed = unsealed
    if count:
        report.last_seq = expected - 1
    return head


# ---------------------------------------------------------------- database


def _encoding_sql(dialect: str) -> str:
    """The canonical encoding (audit.chain.canonical), built by the database."""
    sep = " || chr(30) || " if dialect == "postgresql" else " || char(30) || "
    parts = [
        "e.seq", "e.occurred_us", "coalesce(e.client_id, '')", "e.service",
        "coalesce(e.purpose, '')", "e.decision", "e.outcome", "e.subjects", "e.body",
    ]  # fmt: skip
    if dialect == "postgresql":
        parts[0], parts[1] = "e.seq::text", "e.occurred_us::text"
        return f"convert_to({sep.join(parts)}, 'UTF8')"
    return f"CAST({sep.join(parts)} AS BLOB)"


def _raw_rows(conn: Connection, start_seq: int, to_seq: int | None) -> Iterator[Row]:
    bound = f" AND e.seq <= {int(to_seq)}" if to_seq is not None else ""
    dialect = conn.dialect.name
    sql = (
        f"SELECT e.seq, {_encoding_sql(dialect)}, c.hash FROM audit_events e "
        "LEFT JOIN audit_chain c ON c.seq = e.seq "
        f"WHERE e.seq >= {int(start_seq)}{bound} ORDER BY e.seq"
    )
    dbapi: Any = conn.connection.driver_connection
    if dialect == "postgresql":
        # Server side (bounded memory), binary (no hex decoding of bytea).
        cursor = dbapi.cursor(name=f"audit_verify_{start_seq}", binary=True)
        cursor.itersize = FETCH_ROWS
    else:
        cursor = dbapi.cursor()
    try:
        cursor.execute(sql)
        while True:
            chunk = cursor.fetchmany(FETCH_ROWS)
            if not chunk:
                break
            yield from chunk
    finally:
        cursor.close()


Share = tuple[Report, bytes | None, tuple[int | None, str] | None]
_next_share: Any = None  # in a child: the counter shared by every process of a verification


def _check_share(conn: Connection, lo: int, hi: int, prev: bytes, cps: dict[int, bytes]) -> Share:
    report = Report()
    try:
        return report, check_chain(_raw_rows(conn, lo, hi), lo, prev, cps, report), None
    except Broken as exc:
        return report, None, (exc.seq, exc.reason)


def _take_shares(
    conn: Connection,
    counter: Any,
    bounds: list[tuple[int, int]],
    anchors: list[bytes],
    checkpoints: dict[int, bytes],
) -> dict[int, Share]:
    """Check shares, taking the next unchecked one each time, until none is left."""
    done: dict[int, Share] = {}
    while True:
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        if index >= len(bounds):
            return done
        lo, hi = bounds[index]
        done[index] = _check_share(conn, lo, hi, anchors[index], checkpoints)


def _child_init(counter: Any) -> None:
    global _next_share
    _next_share = counter


def _child_shares(
    engine_url: str,
    bounds: list[tuple[int, int]],
    anchors: list[bytes],
    checkpoints: dict[int, bytes],
) -> dict[int, Share]:
    """A child process's part of a parallel verification."""
    from sqlalchemy import create_engine

    engine = create_engine(engine_url)
    try:
        with engine.connect() as conn:
            return _take_shares(conn, _next_share, bounds, anchors, checkpoints)
    finally:
        engine.dispose()


def _parallel(
    conn: Connection,
    engine_url: str,
    workers: int,
    start_seq: int,
    last: int,
    prev: bytes,
    checkpoints: dict[int, bytes],
    report: Report,
    share: int,
) -> bytes | None:
    """Cut the range into shares of ``share`` events, each anchored on the stored hash
    before it (which the previous share checks against the recomputed chain). This
    process and ``workers - 1`` children take the next unchecked share until none is
    left, so this process works from the start while the children are still starting
    (a spawned child needs about a second to import)."""
    bounds = [(lo, min(lo + share - 1, last)) for lo in range(start_seq, last + 1, share)]
    anchors = [prev]
    for lo, _ in bounds[1:]:
        stored = conn.execute(
            select(audit_chain.c.hash).where(audit_chain.c.seq == lo - 1)
        ).scalar()
        if stored is None:
            return None  # an unsealed stretch: verify in one pass instead
        anchors.append(bytes(stored))
    context = multiprocessing.get_context("spawn")  # children must not share connections
    counter = context.Value("q", 0)
    with ProcessPoolExecutor(
        max_workers=workers - 1, mp_context=context, initializer=_child_init, initargs=(counter,)
    ) as pool:
        children = [
            pool.submit(_child_shares, engine_url, bounds, anchors, checkpoints)
            for _ in range(workers - 1)
        ]
        results = _take_shares(conn, counter, bounds, anchors, checkpoints)
        for child in children:
            results.update(child.result())
    head = prev
    for index, (lo, hi) in enumerate(bounds):
        part, part_head, broken = results[index]
        report.events_checked += part.events_checked
        if broken is not None:
            raise Broken(*broken)
        final = index == len(bounds) - 1
        if not final and part.last_seq != hi:
            raise Broken((part.last_seq or lo - 1) + 1, f"events up to {hi} are missing (deleted)")
        if not final and part.unsealed:
            raise Broken(hi - part.unsealed + 1, "an event before a sealed one has no chain entry")
        report.last_seq, report.unsealed = part.last_seq, part.unsealed
        assert part_head is not None
        head = part_head
    report.first_seq = start_seq
    return head


def verify_database(
    conn: Connection,
    public_keys: Mapping[str, Ed25519PublicKey],
    from_seq: int | None = None,
    to_seq: int | None = None,
    *,
    workers: int = 1,
    engine_url: str | None = None,
    share: int = 50_000,
) -> Report:
    """Verify what the database holds (from the last removed archive on), or a range.

    With ``workers`` > 1 and ``engine_url`` (a synchronous SQLAlchemy URL for the same
    database), ranges of more than ``share`` events per worker are cut into shares of
    ``share`` events checked by that many processes (children see only what is
    committed)."""
    report = Report()
    try:
        start_seq, prev = _database_start(conn, public_keys, report, from_seq)
        checkpoints: dict[int, bytes] = {}
        query = select(audit_checkpoints).where(audit_checkpoints.c.seq >= start_seq)
        if to_seq is not None:
            query = query.where(audit_checkpoints.c.seq <= to_seq)
        for cp in conn.execute(query.order_by(audit_checkpoints.c.seq)).mappings():
            signed_head = bytes(cp["head_hash"])
            message = checkpoint_message(cp["seq"], signed_head, cp["signed_us"])
            if not _verify_signature(public_keys, cp["key_id"], bytes(cp["signature"]), message):
                raise Broken(cp["seq"], f"checkpoint signature invalid (key {cp['key_id']})")
            checkpoints[cp["seq"]] = signed_head
            report.checkpoints_checked += 1
        # The chain's end before the walk: a running gateway keeps chaining events while
        # it reads, and an end read after it would count those as missing from the walk.
        top = None
        if to_seq is None:
            top = conn.execute(
                select(audit_chain.c.seq).order_by(audit_chain.c.seq.desc()).limit(1)
            ).scalar()
        head: bytes | None = None
        if workers > 1 and engine_url is not None:
            bound = select(func.max(audit_events.c.seq)).where(audit_events.c.seq >= start_seq)
            if to_seq is not None:
                bound = bound.where(audit_events.c.seq <= to_seq)
            top_seq = conn.execute(bound).scalar()
            if top_seq is not None and top_seq - start_seq > share * workers:
                head = _parallel(
                    conn,
                    engine_url,
                    workers,
                    start_seq,
                    int(top_seq),
                    prev,
                    checkpoints,
                    report,
                    share,
                )
        if head is None:
            head = check_chain(
                _raw_rows(conn, start_seq, to_seq), start_seq, prev, checkpoints, report
            )
        report.head_hash = head.hex()
        last = report.last_seq if report.last_seq is not None else start_seq - 1
        if to_seq is None:
            if checkpoints and max(checkpoints) > last:
                raise Broken(
                    last + 1, f"truncated: checkpoint {max(checkpoints)} is beyond the last event"
                )
            if top is not None and int(top) > last:
                raise Broken(last + 1, f"truncated: chained events up to {top} are missing")
    except Broken as exc:
        return report.broken(exc)
    return report


def _database_start(
    conn: Connection,
    public_keys: Mapping[str, Ed25519PublicKey],
    report: Report,
    from_seq: int | None,
) -> tuple[int, bytes]:
    prev_last: int | None = None
    prev_hash = GENESIS
    for row in conn.execute(select(audit_archives).order_by(audit_archives.c.first_seq)).mappings():
        manifest = json.loads(row["manifest"])
        if not _verify_signature(
            public_keys,
            manifest["key_id"],
            base64.b64decode(manifest["signature"]),
            manifest_message(manifest),
        ):
            raise Broken(row["first_seq"], "archive manifest signature invalid")
        if prev_last is not None and (
            manifest["first_seq"] != prev_last + 1
            or bytes.fromhex(manifest["prev_hash"]) != prev_hash
        ):
            raise Broken(manifest["first_seq"], "archives do not chain to each other")
        prev_last, prev_hash = manifest["last_seq"], bytes.fromhex(manifest["last_hash"])
        report.archives_checked += 1
    if from_seq is not None and from_seq > (prev_last or 0) + 1:
        anchor = conn.execute(
            select(audit_chain.c.hash).where(audit_chain.c.seq == from_seq - 1)
        ).scalar()
        if anchor is None:
            raise Broken(from_seq - 1, "no chained event before the requested range")
        report.notes.append(f"range anchored at the stored hash of event {from_seq - 1}")
        return from_seq, bytes(anchor)
    if prev_last is not None:
        return prev_last + 1, prev_hash
    first = conn.execute(select(audit_events.c.seq).order_by(audit_events.c.seq).limit(1)).scalar()
    if first is not None and int(first) != 1:
        raise Broken(1, f"events 1 to {int(first) - 1} are missing and were never archived")
    return 1, GENESIS


# ---------------------------------------------------------------- archives, offline


def _archive_rows(path: Path) -> Iterator[Row]:
    with path.open("r", encoding="utf-8") as lines:
        for line in lines:
            e = json.loads(line)
            encoded = canonical(*(e[c] for c in INDEX_COLUMNS))
            yield e["seq"], encoded, bytes.fromhex(e["hash"])


def verify_archives(directory: Path, public_keys: Mapping[str, Ed25519PublicKey]) -> Report:
    """Verify archive files with nothing but the public key(s): manifests signed and
    chained to each other, files unaltered, every event and checkpoint."""
    report = Report()
    manifests = sorted(
        (json.loads(p.read_text(encoding="utf-8")) for p in directory.glob("*.manifest.json")),
        key=lambda m: m["first_seq"],
    )
    if not manifests:
        report.ok, report.reason = False, f"no archive manifest in {directory}"
        return report
    prev: dict[str, Any] | None = None
    try:
        for manifest in manifests:
            first = manifest["first_seq"]
            if not _verify_signature(
                public_keys,
                manifest["key_id"],
                base64.b64decode(manifest["signature"]),
                manifest_message(manifest),
            ):
                raise Broken(first, "archive manifest signature invalid")
            start_hash = bytes.fromhex(manifest["prev_hash"])
            if prev is not None and (
                first != prev["last_seq"] + 1 or manifest["prev_hash"] != prev["last_hash"]
            ):
                raise Broken(first, "archives do not chain to each other (one is missing)")
            if prev is None and first != 1:
                raise Broken(1, f"archives of events 1 to {first - 1} are missing")
            if prev is None and start_hash != GENESIS:
                raise Broken(1, "the first archive does not start at the genesis hash")
            path = directory / manifest["file"]
            digest = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            checkpoints: dict[int, bytes] = {}
            for cp in manifest["checkpoints"]:
                head = bytes.fromhex(cp["head_hash"])
                if not _verify_signature(
                    public_keys,
                    cp["key_id"],
                    base64.b64decode(cp["signature"]),
                    checkpoint_message(cp["seq"], head, cp["signed_us"]),
                ):
                    raise Broken(cp["seq"], "checkpoint signature invalid")
                checkpoints[cp["seq"]] = head
                report.checkpoints_checked += 1
            head = check_chain(_archive_rows(path), first, start_hash, checkpoints, report)
            if report.last_seq != manifest["last_seq"]:
                raise Broken((report.last_seq or first - 1) + 1, "archive file truncated")
            if head.hex() != manifest["last_hash"]:
                raise Broken(manifest["last_seq"], "archive does not end at its signed hash")
            if digest.hexdigest() != manifest["file_sha256"]:
                raise Broken(first, "archive file differs from its manifest digest")
            report.archives_checked += 1
            report.head_hash = head.hex()
            prev = manifest
    except Broken as exc:
        return report.broken(exc)
    return report
