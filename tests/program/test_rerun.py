"""The operation played twice against the same gateway (``demo --gateway`` run again
with a larger cap): nobody is paid twice, and each run counts only what it paid, with
those paid by the earlier run counted apart."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from gateway.cli.sandbox import in_process_gateway
from program.demo import QuietProgress, play
from program.operation import Results, funnel_stages
from program.registers import FileRegisters

AS_OF = date(2021, 3, 1)
SEED = 31


async def test_a_second_run_pays_only_the_households_the_first_did_not(tmp_path: Path) -> None:
    async with in_process_gateway(500, SEED, "none", tmp_path) as box:

        async def run(cap: int) -> Results:
            return await play(
                box.url,
                box.credentials,
                FileRegisters.read(box.registers),
                QuietProgress(echo=False),
                seed=SEED,
                limit=cap,
                concurrency=8,
                as_of=AS_OF,
            )

        first = await run(60)
        second = await run(150)
        again = await run(150)  # the same roll: the same runs, read back

    paid_first = {h.cui for h in first.households if h.t1 == "paid"}
    assert paid_first
    t1 = second.payments["T1"]
    earlier = {h.cui for h in second.households if h.t1 == "paid-earlier"}
    paid_now = {h.cui for h in second.households if h.t1 == "paid"}
    # Those the first run paid are refused at intake as already paid, not paid again.
    assert earlier == paid_first
    assert t1["paid_earlier"] == len(earlier)
    assert t1["paid"] == t1["booked"] == len(paid_now) > 0
    assert not paid_now & paid_first
    assert t1["second_debits"] == 0
    # The funnel says why they did not get this run's first transfer.
    stages = {s.name: s for s in funnel_stages(second.households)}
    assert stages["with-account"].dropped.get("first-transfer-paid-earlier") == len(earlier)
    # The identical run again: nothing new paid, nothing paid twice.
    assert again.payments["T1"]["paid"] == t1["paid"]
    assert {h.cui for h in again.households if h.t1 == "paid"} == paid_now
