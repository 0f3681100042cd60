"""The calibration at a reduced size: a population sized for a few thousand eligible
households lands on the decree's proportions, for several seeds.

The figures are computed from the population as the programme and the gateway judge it
(the decree's rules; the co-responsibility rule table of ``contracts/policy``), without
playing the operation. Tolerances come from the sample size: a share measured on ``n``
households has a standard error of ``sqrt(p (1 - p) / n)``; each seed must land within
4.5 standard errors plus one point (the calibration's own distance from the published
share, measured at 0.3 point on 20,000 households), and the seeds pooled within the
2 points the national run is held to (4 standard errors of the pooled sample). The seeds
are fixed, so the test is deterministic; the bounds say it would pass for other seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from adapters.sandbox.calibration import CalibrationError, load_calibration
from adapters.sandbox.districts import load_districts
from adapters.sandbox.population import Household, Population
from gateway.broker.rules import load_rules, verdicts
from gateway.partners.models import HealthService
from gateway.settings import REPO_ROOT
from program.operation import priority_of
from program.published import PUBLISHED

AS_OF = date(2021, 3, 1)
PERIOD_END = date(2021, 2, 28)
SEEDS = (3, 17, 2020)
ELIGIBLE = 4_000
RULES = load_rules(REPO_ROOT / "contracts" / "policy" / "coresponsibility-rules.yaml")
DISTRICTS = load_districts()
CALIBRATION = load_calibration()
# Published shares, in percent.
COMPLIANT = PUBLISHED["compliant_households_pct"]
VERY_HIGH = PUBLISHED["very_high_priority_children_pct"]
HOLDS_ACCOUNT = 100 * (1 - PUBLISHED["accounts_opened"] / PUBLISHED["households_affiliated"])
CARDS = 100 * PUBLISHED["cards_delivered"] / PUBLISHED["accounts_opened"]
# SMS reminders (program/reminders.py): one per caregiver with a mobile line whose child
# missed an item at the end of November 2020; December's were sent in two rounds.
NOVEMBER = 100 * PUBLISHED["sms_sent_november"] / PUBLISHED["households_affiliated"]
DECEMBER = 100 * PUBLISHED["sms_sent_december"] / 2 / PUBLISHED["households_affiliated"]


def months(born: date) -> int:
    return (AS_OF.year - born.year) * 12 + AS_OF.month - born.month - (AS_OF.day < born.day)


def eligible(h: Household) -> bool:
    """The decree's rules as the programme applies them (``program.operation``)."""
    born = h.child.birth_date
    return (
        h.district.eligible
        and date(2019, 3, 1) <= born < AS_OF
        and months(born) < 24
        and not h.child.deceased
        and not h.in_juntos
        and not h.formal_payroll
    )


def missing(pop: Population, h: Household, until: date) -> list[str]:
    services = [
        HealthService(
            r.appointment_id,
            r.service_date,
            r.facility,
            r.item_code,
            r.diagnosis_type,
            r.lab_value,
            r.age_value,
            r.age_unit,
            r.weight_kg,
            r.height_cm,
            r.hemoglobin,
        )  # fmt: skip
        for r in pop.health_records(h)
    ]
    if until < h.child.birth_date:
        return []
    judged = verdicts(RULES, h.child.birth_date, services, until)
    return [v["item"] for v in judged if v["verdict"] == "missing"]


def reminded(pop: Population, h: Household, until: date) -> bool:
    """Whether the follow-up reminds this caregiver in the month ending ``until``."""
    mobile = any(line.number.startswith("9") for line in h.phone_lines)
    return mobile and bool(missing(pop, h, until))


@dataclass
class Figures:
    size: int
    eligible: int
    compliant: int
    very_high: int
    holds_account: int
    new_accounts: int
    cards: int
    november: int = 0
    december: int = 0


def figures(seed: int) -> Figures:
    pop = Population.for_target(DISTRICTS, seed=seed, as_of=AS_OF, eligible=ELIGIBLE)
    f = Figures(pop.size, 0, 0, 0, 0, 0, 0)
    for i in range(pop.size):
        h = pop.household(i)
        if not eligible(h):
            continue
        f.eligible += 1
        level = priority_of(missing(pop, h, PERIOD_END))
        f.november += reminded(pop, h, date(2020, 11, 30))
        f.december += reminded(pop, h, date(2020, 12, 31))
        f.compliant += level == "low"
        f.very_high += level == "very-high"
        f.holds_account += h.holds_cuenta_dni
        if not h.holds_cuenta_dni and not h.mother.deceased:
            f.new_accounts += 1
            f.cards += h.card_pickup
    return f


@pytest.fixture(scope="module")
def runs() -> dict[int, Figures]:
    return {seed: figures(seed) for seed in SEEDS}


def bound(p_pct: float, n: int) -> float:
    """One point plus 4.5 standard errors of a share of ``p_pct`` percent on ``n``."""
    p = p_pct / 100
    return 1 + 4.5 * 100 * math.sqrt(p * (1 - p) / n)


def test_the_population_holds_the_target_plus_the_ineligible(runs: dict[int, Figures]) -> None:
    for seed, f in runs.items():
        p = ELIGIBLE / f.size
        spread = 4.5 * math.sqrt(f.size * p * (1 - p))
        assert abs(f.eligible - ELIGIBLE) <= spread, (seed, f.eligible)
        assert f.size > 1.2 * ELIGIBLE  # the ineligible come on top of the target


@pytest.mark.parametrize(
    ("name", "published", "part", "whole"),
    [
        ("compliant households", COMPLIANT, "compliant", "eligible"),
        ("very-high-priority children", VERY_HIGH, "very_high", "eligible"),
        ("caregivers already holding a Cuenta DNI", HOLDS_ACCOUNT, "holds_account", "eligible"),
        ("cards delivered per new account", CARDS, "cards", "new_accounts"),
        ("caregivers reminded in November", NOVEMBER, "november", "eligible"),
        ("caregivers reminded in each December round", DECEMBER, "december", "eligible"),
    ],
)
def test_each_seed_and_the_seeds_pooled_land_on_the_published_share(
    runs: dict[int, Figures], name: str, published: float, part: str, whole: str
) -> None:
    for seed, f in runs.items():
        n = getattr(f, whole)
        share = 100 * getattr(f, part) / n
        assert abs(share - published) <= bound(published, n), (name, seed, share)
    n = sum(getattr(f, whole) for f in runs.values())
    pooled = 100 * sum(getattr(f, part) for f in runs.values()) / n
    assert abs(pooled - published) <= 2.0, (name, pooled)


def test_the_national_population_is_sized_for_the_decree_target() -> None:
    pop = Population.for_target(DISTRICTS)
    expected = pop.size * pop.expected_eligible_share()
    assert abs(expected - PUBLISHED["households_affiliated"]) < 1
    assert CALIBRATION.target.eligible_households == PUBLISHED["households_affiliated"]


def test_a_bad_calibration_names_the_key(tmp_path: Path) -> None:
    text = (REPO_ROOT / "adapters" / "sandbox" / "calibration.toml").read_text(encoding="utf-8")
    bad = tmp_path / "calibration.toml"
    bad.write_text(text.replace("in_juntos = 0.12", "in_juntos = 1.5"), encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"household\.in_juntos"):
        load_calibration(bad)
