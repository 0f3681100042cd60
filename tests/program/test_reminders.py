"""The monthly reminders as the operation sends them: through the in-process sandbox
gateway and its SMS centre over SMPP, once per child and month."""

from __future__ import annotations

from pathlib import Path

from gateway.cli.sandbox import in_process_gateway
from program.client import GatewayClient, load_credentials
from program.reminders import Caregiver, read_back, send_monthly_reminders


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
            # A new month is a new reminder.
            december = await send_monthly_reminders(gw, "2020-12", caregivers)
            december = await read_back(gw, december, wait_seconds=20)
            assert december.batches != november.batches
            assert december.counts["delivered"] == len(with_line)
