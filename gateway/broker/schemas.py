from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class IdentityVerificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dni: str = Field(description="DNI, 8 digits, optionally with its check character.")
    given_names: str | None = Field(default=None, max_length=120)
    first_surname: str | None = Field(default=None, max_length=80)
    second_surname: str | None = Field(default=None, max_length=80)
    birth_date: date | None = None


class AccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dni: str = Field(description="DNI of the holder, optionally with its check character.")


class Envelope(BaseModel):
    """Every brokered answer: which service, for which purpose, on which legal basis."""

    service: str
    purpose: str
    legal_basis: str
    data: Any
    next_cursor: str | None = None
    period: str | None = None
