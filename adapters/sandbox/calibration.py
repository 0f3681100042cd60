"""The sandbox population's parameters, read from one documented data file.

``calibration.toml`` beside this module holds every share the synthetic population draws
from (births by district, JUNTOS membership, formal payroll, deaths, existing Cuentas DNI,
card pick-up, phone lines, compliance by item), each with a comment naming the published
DU 095-2020 figure it aims at (``program.published``) or saying it is an assumption.
:func:`load_calibration` validates it (pydantic): a missing key, an unknown key or a
value out of range raises :class:`CalibrationError` naming the key.
"""

from __future__ import annotations

import tomllib
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

BUNDLED = Path(__file__).with_name("calibration.toml")

Share = Annotated[float, Field(ge=0.0, le=1.0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Section):
    eligible_households: int = Field(ge=1)


class Births(_Section):
    first_day: date
    last_day: date
    rate_base_per_thousand: float = Field(gt=0)
    rate_per_poverty_per_thousand: float = Field(ge=0)
    inhabitants_if_unknown: float = Field(gt=0)
    outside_share: Annotated[float, Field(ge=0.0, lt=1.0)]

    @model_validator(mode="after")
    def _ordered(self) -> Births:
        if self.last_day < self.first_day:
            raise ValueError("last_day is before first_day")
        return self

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def rate(self, poverty_pct: float | None) -> float:
        """Births per 1,000 inhabitants in a district of this percent poverty."""
        return self.rate_base_per_thousand + self.rate_per_poverty_per_thousand * (
            (poverty_pct or 0.0) / 100
        )


class HouseholdShares(_Section):
    in_juntos: Share
    formal_payroll: Share
    child_deceased: Share
    mother_deceased: Share
    father_present: Share
    father_deceased: Share


class BankShares(_Section):
    holds_cuenta_dni: Share
    card_pickup: Share


class Phone(_Section):
    lines_weights: tuple[int, int, int, int]


class Compliance(_Section):
    keeps_up_by_age: tuple[tuple[int, Share], ...] = Field(min_length=1)
    keeps_up_item: Share
    lapsed_vaccine: Share
    lapsed_iron: Share
    lapsed_other: Share
    delay_max_days: int = Field(ge=0, le=29)  # the rules' grace is 30 days

    @model_validator(mode="after")
    def _bands(self) -> Compliance:
        ages = [below for below, _ in self.keeps_up_by_age]
        if ages != sorted(set(ages)) or ages[0] <= 0:
            raise ValueError("keeps_up_by_age: ages must be positive and increasing")
        return self


class Calibration(_Section):
    """The whole file; sections as in ``calibration.toml``."""

    target: Target
    births: Births
    household: HouseholdShares
    bank: BankShares
    phone: Phone
    compliance: Compliance


class CalibrationError(ValueError):
    """The calibration file cannot be used; the message names the file and the key."""


@cache
def load_calibration(path: Path = BUNDLED) -> Calibration:
    """The calibration in ``path`` (the bundled file by default), read once per path."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CalibrationError(f"{path}: cannot read ({exc})") from None
    try:
        return Calibration.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CalibrationError(f"{path}: {where}: {first['msg']}") from None
