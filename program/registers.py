"""What the programme knows without asking the gateway: the district table (poverty and
region by INEI ubigeo) and its copy of the national household register (RNH), which says
whether a caregiver has a formal payroll job.

The RNH is not one of the four partner agencies; in the sandbox the programme's copy is
simulated from the same deterministic population the mocks serve.
"""

from __future__ import annotations

from pathlib import Path

from adapters.sandbox.districts import load_districts
from adapters.sandbox.population import ROLE_MOTHER, Population


class SandboxRegisters:
    def __init__(self, population: Population, ubigeo_file: Path | None = None) -> None:
        districts = load_districts(ubigeo_file)
        located = [d for d in districts if d.inei is not None]
        self._poverty = {d.inei: d.poverty_pct for d in located}
        self._region = {d.inei: d.department for d in located}
        self._population = population

    def poverty_pct(self, ubigeo: str) -> float | None:
        """Percent monetary poverty of an INEI district; None when unknown."""
        return self._poverty.get(ubigeo)

    def region(self, ubigeo: str) -> str:
        return self._region.get(ubigeo, "UNKNOWN")

    def formal_payroll(self, dni: str) -> bool:
        found = self._population.locate(dni)
        if found is None or found[1] != ROLE_MOTHER or found[0] >= self._population.size:
            return False
        return self._population.household(found[0]).formal_payroll
