"""Cost of protecting one record at rest: sealing, opening, pseudonymising.

Prints microseconds per record for a consent document (about 600 bytes of JSON), as a
ratio against serialising the same record to JSON, measured in the same run.

    .venv/bin/python -m bench.crypto [--records 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench._machine import describe
from gateway.core.data_keys import DataKeyring
from gateway.core.pseudonyms import Pseudonymizer


def per_record(work: Callable[[int], object], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        work(i)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args()
    n = args.records

    master = os.urandom(32)
    keyring = DataKeyring(master)
    # One data key, loaded as the gateway holds it (no database needed for the figures).
    keyring.install("dk-bench", AESGCM.generate_key(bit_length=256))
    pseudonyms = Pseudonymizer(master)

    def document(i: int) -> dict[str, object]:
        return {
            "cui": f"{80000000 + i}",
            "caregiver_dni": f"{40000000 + i}",
            "purposes": ["coresponsibility-verification", "payment"],
            "data_categories": ["financial", "health"],
            "evidence": {"recording_ref": f"rec-{i:08d}", "sha256": "ab" * 32},
            "agent_id": "agent-007",
            "agreement_id": "DU095-2020-ACUERDO-COMPROMISO",
            "granted_at": "2021-03-01T10:00:00Z",
        }

    docs = [json.dumps(document(i)).encode() for i in range(1000)]
    sealed = [keyring.encrypt(d, b"consents\x00%d" % i) for i, d in enumerate(docs)]
    size = sum(len(d) for d in docs) // len(docs)

    baseline = per_record(lambda i: json.dumps(document(i)).encode(), n)
    seal = per_record(lambda i: keyring.encrypt(docs[i % 1000], b"consents\x00%d" % i), n)
    unseal = per_record(
        lambda i: keyring.decrypt(sealed[i % 1000], b"consents\x00%d" % (i % 1000)), n
    )
    pseudo = per_record(lambda i: pseudonyms.of("dni", f"{40000000 + i}"), n)

    print(f"machine: {describe()}")
    print(f"records: {n:,}, document {size} bytes of JSON")
    print(f"{'operation':<28}{'us/record':>10}{'vs JSON':>10}")
    for name, cost in [
        ("serialise to JSON (base)", baseline),
        ("seal (AES-256-GCM)", seal),
        ("open (AES-256-GCM)", unseal),
        ("pseudonym (HMAC-SHA256)", pseudo),
    ]:
        print(f"{name:<28}{cost:>10.2f}{cost / baseline:>9.2f}x")


if __name__ == "__main__":
    main()
