"""The funnel's arithmetic: every household counted once, at the stage where it stopped,
with its reason; each stage the previous one minus its drop-outs."""

from __future__ import annotations

from datetime import date

from program.operation import STAGES, Household, Results, funnel_stages


def household(n: int, **fate: object) -> Household:
    h = Household(
        cui=f"{n:08d}",
        mother_dni=f"{n + 50_000_000:08d}",
        mother_names="X",
        ubigeo="010101",
        birth_date=date(2020, 6, 1),
        alive=True,
        in_juntos=False,
    )
    for name, value in fate.items():
        setattr(h, name, value)
    return h


def paid(n: int, **more: object) -> Household:
    fate: dict[str, object] = {"outcome": "account-opened", "consent_id": "c", "cci": "018"}
    return household(n, **(fate | {"t1": "paid"} | more))


def test_every_household_is_counted_once_with_its_reason() -> None:
    households = [
        household(1, outcome="already-in-juntos"),
        household(2, outcome="district-poverty-below-15"),
        household(3, outcome="refused"),
        household(4, outcome="error-partner-unavailable"),
        household(5, outcome="account-refused-deceased-holder", consent_id="c", priority="low"),
        household(6, outcome="account-existing", consent_id="c", cci="018", t1="rejected"),
        paid(7, priority="very-high", missing=("rotavirus-2", "iron-drops")),
        paid(8, priority="high", missing=("pneumococcal-3",)),
        paid(9, priority="low", compliant=True),
        paid(10, priority="low", compliant=True, outcome="account-existing"),
    ]
    stages = funnel_stages(households)
    assert [s.name for s in stages] == list(STAGES)
    assert [s.households for s in stages] == [10, 8, 6, 5, 4, 2]
    assert stages[0].dropped == {"already-in-juntos": 1, "district-poverty-below-15": 1}
    assert stages[1].dropped == {"error-partner-unavailable": 1, "refused": 1}
    assert stages[2].dropped == {"account-refused-deceased-holder": 1}
    assert stages[3].dropped == {"first-transfer-rejected": 1}
    assert stages[4].dropped == {"priority-high": 1, "priority-very-high": 1}
    assert stages[5].dropped == {}
    for before, after in zip(stages, stages[1:], strict=False):
        assert after.households == before.households - sum(before.dropped.values())
    assert stages[-1].households + sum(sum(s.dropped.values()) for s in stages) == 10


def test_a_household_with_a_low_priority_but_no_first_transfer_is_not_compliant() -> None:
    # The semáforo says "low" for the child, but the household was never paid: it stops
    # before the compliant stage, which is why "compliant" and "low" may differ.
    h = household(1, outcome="account-opened", consent_id="c", cci="018", t1="pending")
    h.priority = "low"
    stages = funnel_stages([h])
    assert stages[-1].households == 0
    assert stages[3].dropped == {"first-transfer-pending": 1}


def test_reprs_name_no_person_and_stay_short() -> None:
    """A household's repr and the run's reach logs and tracebacks (and asyncio formats
    the repr of a finished task's result): no identifier, name or number in them, and
    the run's does not grow with its households."""
    h = household(7, mobile="987654321", consent_id="c", cci="01800000012345678901")
    h.mother_names = "QUISPE MAMANI ROSA"
    shown = repr(h)
    for secret in (h.cui, h.mother_dni, "QUISPE", "987654321", "01800000012345678901"):
        assert secret not in shown
    assert "010101" in shown
    assert "candidate" in shown

    results = Results(as_of=date(2021, 3, 1), period="2021-02")
    results.households = [household(n) for n in range(10_000)]
    assert len(repr(results)) < 200
    assert "households=10000" in repr(results)
    assert "00000001" not in repr(results)
