"""Co-responsibility verdicts from the rule table in ``contracts/policy/``.

The rules are data: which CPMS code and dose is due at what age, with what grace. The
verdict of each rule for a child and a period is ``given``, ``missing`` or
``not-yet-due``; no diagnosis or other clinical row ever reaches the answer.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.partners.models import HealthService

Verdict = Literal["given", "missing", "not-yet-due"]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item: str = Field(pattern=r"^[a-z0-9-]+$")
    code: str
    dose: str
    due_age_days: int = Field(ge=0)
    grace_days: int = Field(ge=0)
    min_age_days: int = Field(default=0, ge=0)


class RuleTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    rules: list[Rule] = Field(min_length=1)


class RuleTableError(ValueError):
    """The rule table cannot be used; the message names the file and the field."""


def load_rules(path: Path) -> RuleTable:
    try:
        return RuleTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleTableError(f"{path}: cannot read ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RuleTableError(f"{path}: {where}: {first['msg']}") from None


def period_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def verdicts(
    table: RuleTable, birth_date: date, services: Iterable[HealthService], until: date
) -> list[dict[str, str]]:
    rows = list(services)
    answer = []
    for rule in table.rules:
        due = birth_date + timedelta(days=rule.due_age_days)
        given = any(
            s.item_code == rule.code
            and s.lab_value == rule.dose
            and (s.service_date - birth_date).days >= rule.min_age_days
            and s.service_date <= until
            for s in rows
        )
        verdict: Verdict
        if given:
            verdict = "given"
        elif due + timedelta(days=rule.grace_days) <= until:
            verdict = "missing"
        else:
            verdict = "not-yet-due"
        answer.append({"item": rule.item, "verdict": verdict, "due_date": due.isoformat()})
    return answer
