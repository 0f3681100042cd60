from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from gateway.calls.answers import DOCUMENT_SCHEMA


class IdentityVerificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dni: str = Field(
        description="DNI, 8 digits, optionally with its check character.",
        json_schema_extra=DOCUMENT_SCHEMA,
    )
    given_names: str | None = Field(default=None, max_length=120)
    first_surname: str | None = Field(default=None, max_length=80)
    second_surname: str | None = Field(default=None, max_length=80)
    birth_date: date | None = None


class AccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dni: str = Field(
        description="DNI of the holder, optionally with its check character.",
        json_schema_extra=DOCUMENT_SCHEMA,
    )
