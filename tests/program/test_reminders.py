"""The monthly reminders as the operation sends them: through the in-process sandbox
gateway and its SMS centre over SMPP, once per child and month."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from gateway.cli.sandbox import in_process_gateway
from gateway.reminders.service import KEY
from program.client import GatewayClient, load_credentials
from program.reminders import (
    Caregiver,
    follow_up_months,
    read_back,
    reminder_key,
    send_monthly_reminders,
)


def test_the_follow_up_calendar_is_the_published_one() -> None:
    # November 2020 once, December 2020 in two rounds, for the operation of 2021-03-01.
    assert follow_up_months(date(2021, 3, 1)) == [("2020-11", 1), ("2020-12", 2)]
    assert follow_up_months(date(2021, 1, 15)) == [("2020-09", 1), ("2020-10", 2)]


def test_a_reminder_key_is_one_per_child_month_and_round_and_names_nobody() -> None:
    cui = "81234567"
    keys = {reminder_key(m, cui, r) for m in ("2020-11", "2020-12") for r in (1, 2)}
    assert len(keys) == 4
    assert reminder_key("2020-11", cui) == reminder_key("2020-11", cui, 1)
    for key in keys:
        assert KEY.match(key)  # the gateway's own rule for a key
        assert len(key) <= 50
        assert cui not in key
    assert re.fullmatch(r"2020-12\.2:[0-9a-f]{40}", reminder_key("2020-12", cui, 2))


async def test_a_month_of_reminders_reaches_every_caregiver_with_a_line_once(
    tmp_path: Path,
) -> None:
    async with in_process_gateway(60, 5, "none", tmp_path) as box:
        population = box.population
        households = [population.household(i) for i in range(40)]
        with_line = [h for h in households if h.phone_lines and not h.mother.deceased][:6]
        without = [h for h in households if not h.phone_lines][:2]
        caregivers = [Caregiver(h.child.cui, h.mother.dni) for h in with_line + without]
        async with GatewayClient(box.url, load_credentials(box.credentials)) as gw:
            november = await send_monthly_reminders(gw, "2020-11", caregivers)
            assert (november.asked, november.no_line) == (len(caregivers), len(without))
            november = await read_back(gw, november, wait_seconds=20)
            assert november.counts["queued"] == 0
            assert november.sent == len(with_line)
            assert november.counts["delivered"] == len(with_line)
            # The step run again that month is the same batch: nobody is reminded twice.
            again = await send_monthly_reminders(gw, "2020-11", caregivers)
            assert again.batches == november.batches
            assert (await read_back(gw, again)).counts == november.counts
            # A new month is a new reminder; two rounds, two each. A caregiver whose
            # mobile number the programme holds is not looked up again.
            known = [
                Caregiver(h.child.cui, h.mother.dni, h.phone_lines[0].number)
                for h in with_line
                if h.phone_lines[0].number.startswith("9")
            ]
            december = await send_monthly_reminders(gw, "2020-12", known, rounds=2)
            december = await read_back(gw, december, wait_seconds=20, receipts=True)
            assert december.batches != november.batches
            assert (december.asked, december.no_line) == (len(known), 0)
            assert december.counts["delivered"] == december.sent == 2 * len(known) > 0
