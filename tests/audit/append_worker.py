"""One writer process for the multi-process append test: many concurrent tasks append
through the group-commit writer while this process also runs sealing rounds, as a
gateway process does.

    python -m tests.audit.append_worker DATABASE_URL EVENTS TASKS TAG
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from audit.sealer import SealPolicy, seal
from audit.writer import GroupCommitWriter
from gateway.core.db import create_engine, session_factory, transaction
from tests.fixtures.audit import SIGNER, event


async def main(url: str, events: int, tasks: int, tag: str) -> None:
    writer = GroupCommitWriter(create_engine(url))
    sealing = session_factory(create_engine(url))
    done = asyncio.Event()

    async def sealer() -> None:
        policy = SealPolicy(checkpoint_every=50, checkpoint_seconds=0.05)
        while not done.is_set():
            with contextlib.suppress(Exception):  # another process's sealer won the race
                async with transaction(sealing) as session:
                    await seal(session, SIGNER, policy)
            await asyncio.sleep(0.01)

    async def task(k: int) -> None:
        for n in range(k, events, tasks):
            await writer.write(event(n, request_id=f"{tag}-{n}"))

    sealing_task = asyncio.create_task(sealer())
    await asyncio.gather(*(task(k) for k in range(tasks)))
    done.set()
    await sealing_task
    await writer.aclose()
    bind = sealing.kw["bind"]
    await bind.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
