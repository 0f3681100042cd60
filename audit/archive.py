"""Sealing ranges of the chain into archive files.

An archive is a JSONL file (one stored event per line, with its chain hash) and a signed
manifest: sequence range, the hash before the first event and after the last one, the
file's SHA-256 and the checkpoints inside the range. Each manifest's ``prev_hash`` is the
previous archive's ``last_hash``, so archives chain to each other and to what stays in
the database. Only chained events up to a signed checkpoint are archived.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from audit.chain import GENESIS, manifest_message
from audit.sealer import Signer, now_us
from audit.store import audit_archives, audit_chain, audit_checkpoints, audit_events

FORMAT = "juntos-audit-archive/1"


def archive_range(conn: Connection) -> tuple[int, int, bytes] | None:
    """(first, last, hash before first) of what can be archived now, or None."""
    last_archived = conn.execute(
        select(audit_archives.c.last_seq, audit_archives.c.last_hash)
        .order_by(audit_archives.c.last_seq.desc())
        .limit(1)
    ).first()
    first = int(last_archived[0]) + 1 if last_archived else 1
    prev = bytes(last_archived[1]) if last_archived else GENESIS
    last_cp = conn.execute(
        select(audit_checkpoints.c.seq).order_by(audit_checkpoints.c.seq.desc()).limit(1)
    ).scalar()
    if last_cp is None or int(last_cp) < first:
        return None
    return first, int(last_cp), prev


def write_archive(
    conn: Connection,
    directory: Path,
    signer: Signer,
    up_to: int | None = None,
    *,
    remove: bool = False,
) -> dict[str, Any] | None:
    """Write the next archive (events after the last removed archive, up to the newest
    checkpoint at or below ``up_to``); with ``remove``, delete those events and their
    chain entries from the database and record the archive there. Runs in the caller's
    transaction; the file is flushed to disk before anything is deleted."""
    span = archive_range(conn)
    if span is None:
        return None
    first, last, prev = span
    if up_to is not None:
        cp = conn.execute(
            select(audit_checkpoints.c.seq)
            .where(audit_checkpoints.c.seq <= up_to, audit_checkpoints.c.seq >= first)
            .order_by(audit_checkpoints.c.seq.desc())
            .limit(1)
        ).scalar()
        if cp is None:
            return None
        last = int(cp)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"audit-{first:012d}-{last:012d}.jsonl"
    path = directory / name
    digest = hashlib.sha256()
    head = prev
    count = 0
    rows = conn.execute(
        select(audit_events, audit_chain.c.hash)
        .join(audit_chain, audit_chain.c.seq == audit_events.c.seq)
        .where(audit_events.c.seq >= first, audit_events.c.seq <= last)
        .order_by(audit_events.c.seq)
        .execution_options(yield_per=10_000)
    ).mappings()
    with path.open("wb") as out:
        for row in rows:
            line = (
                json.dumps(
                    {
                        "seq": row["seq"],
                        "occurred_us": row["occurred_us"],
                        "client_id": row["client_id"],
                        "service": row["service"],
                        "purpose": row["purpose"],
                        "decision": row["decision"],
                        "outcome": row["outcome"],
                        "subjects": row["subjects"],
                        "body": row["body"],
                        "hash": bytes(row["hash"]).hex(),
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                + "\n"
            ).encode()
            out.write(line)
            digest.update(line)
            head = bytes(row["hash"])
            count += 1
        out.flush()
        os.fsync(out.fileno())
    if count != last - first + 1:
        path.unlink()
        raise ValueError(f"the chain between {first} and {last} is incomplete: run audit verify")
    checkpoints = [
        {
            "seq": cp["seq"],
            "head_hash": bytes(cp["head_hash"]).hex(),
            "signed_us": cp["signed_us"],
            "key_id": cp["key_id"],
            "signature": base64.b64encode(bytes(cp["signature"])).decode(),
        }
        for cp in conn.execute(
            select(audit_checkpoints)
            .where(audit_checkpoints.c.seq >= first, audit_checkpoints.c.seq <= last)
            .order_by(audit_checkpoints.c.seq)
        ).mappings()
    ]
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "file": name,
        "file_sha256": digest.hexdigest(),
        "first_seq": first,
        "last_seq": last,
        "count": count,
        "prev_hash": prev.hex(),
        "last_hash": head.hex(),
        "checkpoints": checkpoints,
        "created_us": now_us(),
        "key_id": signer.key_id,
    }
    manifest["signature"] = base64.b64encode(signer.sign(manifest_message(manifest))).decode()
    manifest_path = directory / name.replace(".jsonl", ".manifest.json")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if remove:
        conn.execute(
            insert(audit_archives).values(
                first_seq=first,
                last_seq=last,
                last_hash=head,
                manifest=json.dumps(manifest),
                created_us=manifest["created_us"],
            )
        )
        conn.execute(delete(audit_chain).where(audit_chain.c.seq <= last))
        conn.execute(delete(audit_events).where(audit_events.c.seq <= last))
    return manifest
