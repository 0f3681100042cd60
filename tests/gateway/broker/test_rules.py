"""Co-responsibility verdicts at their boundaries: the code and the dose must both match,
a service counts from the rule's minimum age and up to the end of the period, and a rule
is ``missing`` from the day its grace ends (``not-yet-due`` before)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gateway.broker.rules import Rule, RuleTable, verdicts
from gateway.partners.models import HealthService

BORN = date(2020, 6, 10)
# Rotavirus, second dose: due at 120 days, 30 days of grace, counted from 100 days.
ROTA_2 = Rule(
    item="rotavirus-2", code="90681", dose="2", due_age_days=120, grace_days=30, min_age_days=100
)
IRON = Rule(item="iron-4m", code="99199.17", dose="1", due_age_days=120, grace_days=60)
TABLE = RuleTable(version=1, rules=(ROTA_2, IRON))


def service(code: str, dose: str, age_days: int) -> HealthService:
    return HealthService(
        appointment_id=f"{code}-{dose}-{age_days}",
        service_date=BORN + timedelta(days=age_days),
        facility="00001234",
        item_code=code,
        diagnosis_type="D",
        lab_value=dose,
        age_value=age_days // 30,
        age_unit="M",
        weight=None,
        height=None,
        hemoglobin=None,
    )


def verdict_of(item: str, services: list[HealthService], until_age_days: int) -> str:
    answer = verdicts(TABLE, BORN, services, BORN + timedelta(days=until_age_days))
    return next(row["verdict"] for row in answer if row["item"] == item)


@pytest.mark.parametrize(
    ("services", "until", "expected"),
    [
        ([service("90681", "2", 100)], 200, "given"),  # on the minimum age
        ([service("90681", "2", 99)], 200, "missing"),  # a day too young
        ([service("90681", "2", 99), service("90681", "2", 130)], 200, "given"),
        ([service("90681", "1", 130)], 200, "missing"),  # the first dose, not the second
        ([service("90680", "2", 130)], 200, "missing"),  # another code, same dose
        ([service("90681", "2", 130)], 130, "given"),  # on the period's last day
        ([service("90681", "2", 150)], 149, "not-yet-due"),  # after the period, in grace
        ([], 150, "missing"),  # grace ends on day 150: missing from that day
        ([], 149, "not-yet-due"),
    ],
)
def test_a_rule_at_its_boundaries(services: list[HealthService], until: int, expected: str) -> None:
    assert verdict_of("rotavirus-2", services, until) == expected


def test_every_rule_is_answered_with_its_due_date() -> None:
    answer = verdicts(TABLE, BORN, [service("99199.17", "1", 125)], BORN + timedelta(days=200))
    assert answer == [
        {"item": "rotavirus-2", "verdict": "missing", "due_date": "2020-10-08"},
        {"item": "iron-4m", "verdict": "given", "due_date": "2020-10-08"},
    ]
