"""With a cap on newborns (``demo --gateway --households N``), the programme reads the
most recent children born, and says which birth dates and which cap it used."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from gateway.cli.sandbox import in_process_gateway
from program.demo import QuietProgress, play
from program.registers import FileRegisters

AS_OF = date(2021, 3, 1)
SEED = 23


async def test_a_cap_takes_the_newest_children(tmp_path: Path) -> None:
    async with in_process_gateway(400, SEED, "none", tmp_path) as box:
        results = await play(
            box.url,
            box.credentials,
            FileRegisters.read(box.registers),
            QuietProgress(echo=False),
            seed=SEED,
            limit=30,
            concurrency=8,
            as_of=AS_OF,
        )
        population = box.population
    born = sorted(
        (
            (population.household(i).child.birth_date, population.household(i).child.cui)
            for i in population.newborns(date(2019, 3, 1), date(2021, 2, 28))
        ),
        reverse=True,
    )
    taken = {h.cui for h in results.households}
    assert len(taken) == len(results.households) == 30
    # Exactly the 30 most recent births of the window (ties broken by CUI), none older.
    assert taken == {cui for _, cui in born[:30]}
    assert results.newborns_cap == 30
    assert results.born_to == date(2021, 2, 28)
    assert results.born_from == min(h.birth_date for h in results.households)
    assert results.born_from > date(2019, 3, 1)  # not the start of the 24 months
