"""The look-ups' and batches' requests and answers as the OpenAPI contract describes
them (see ``gateway.calls.answers`` for how answer models document, not serialise)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gateway.calls.answers import (
    DOCUMENT_SCHEMA,
    NEXT_CURSOR,
    PERIOD,
    UBIGEO_SCHEMA,
    Record,
    envelope,
)

# A ubigeo is always a 6-digit code (here INEI's); a place's name is ``place_name``.
IneiCode = Annotated[str, Field(json_schema_extra=UBIGEO_SCHEMA)]


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


class PersonRecord(Record):
    """Identity of a person (RENIEC ``consultar``); ``photo`` is base64 JPEG."""

    dni: str | None = None
    first_surname: str | None = None
    second_surname: str | None = None
    given_names: str | None = None
    address: str | None = None
    marital_status: str | None = None
    place_name: str | None = Field(
        default=None,
        description=(
            "Where the person lives as RENIEC names it: DEPARTAMENTO/PROVINCIA/DISTRITO "
            "(names, not a code)."
        ),
    )
    ubigeo: IneiCode | None = Field(
        default=None,
        description=(
            "The district's 6-digit INEI code, when the gateway's district table knows "
            "place_name; null otherwise."
        ),
    )
    restriction: str | None = None
    photo: str | None = None


class IdentityVerificationRecord(Record):
    """Whether the declared names match RENIEC's record; never the record itself."""

    match: bool | None = None
    mismatched_fields: list[str] | None = None
    unverified_fields: list[str] | None = None


class NewbornRecord(Record):
    """A child of the live-birth register (Padrón Nominal)."""

    cui: str | None = None
    cnv: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    birth_weight_g: int | None = None
    health_facility: str | None = None
    ubigeo: IneiCode | None = Field(
        default=None, description="The district's 6-digit INEI code (the Padrón's coUbigeoInei)."
    )
    mother_dni: str | None = None
    mother_names: str | None = None
    child_names: str | None = None
    social_programs: list[str] | None = None
    alive: bool | None = None


class PhoneLineRecord(Record):
    """A mobile line registered to a document."""

    number: str | None = None
    operator: str | None = None
    modality: str | None = None


class PhoneLineLookup(BaseModel):
    """One caregiver of a batch: the lines, or ``status`` and ``error`` (no consent)."""

    dni: str
    lines: list[PhoneLineRecord] | None = None
    status: int | None = None
    error: str | None = None


class AccountRecord(Record):
    """A Cuenta DNI at Banco de la Nación."""

    dni: str | None = None
    account_number: str | None = None
    cci: str | None = None
    status: str | None = None
    opened_at: datetime | None = None


class AccountOpening(BaseModel):
    """One holder of a mass opening: the account (``status`` 201 new, 200 existing), or
    ``status`` and ``error`` with the bank's ``bank_code``."""

    dni: str
    status: int
    account: AccountRecord | None = None
    error: str | None = None
    bank_code: str | None = None


class HealthServiceRecord(Record):
    """A health service registered in HIS for a child."""

    appointment_id: str | None = None
    service_date: date | None = None
    facility: str | None = None
    item_code: str | None = None
    diagnosis_type: str | None = None
    lab_value: str | None = None
    weight: float | None = None
    height: float | None = None
    hemoglobin: float | None = None


class VerdictRecord(Record):
    """The verdict on one required health item: given, missing or not yet due."""

    item: str | None = None
    verdict: str | None = None
    due_date: date | None = None


class ChildVerdicts(BaseModel):
    """One child of a batch: the verdicts, or ``status`` and ``error``."""

    cui: str
    verdicts: list[VerdictRecord] | None = None
    status: int | None = None
    error: str | None = None


PersonAnswer = envelope("PersonAnswer", PersonRecord, "reniec.person")


IdentityVerificationAnswer = envelope(
    "IdentityVerificationAnswer", IdentityVerificationRecord, "reniec.identity-verification"
)


NewbornsAnswer = envelope(
    "NewbornsAnswer", list[NewbornRecord], "reniec.newborns", next_cursor=NEXT_CURSOR
)


PhoneLinesAnswer = envelope("PhoneLinesAnswer", list[PhoneLineRecord], "osiptel.phone-lines")


PhoneLineLookupsAnswer = envelope(
    "PhoneLineLookupsAnswer", list[PhoneLineLookup], "osiptel.phone-lines, one entry a DNI"
)


AccountAnswer = envelope("AccountAnswer", AccountRecord, "bn.account-opening or bn.account")


AccountOpeningsAnswer = envelope(
    "AccountOpeningsAnswer", list[AccountOpening], "bn.account-opening, one entry a holder"
)


HealthServicesAnswer = envelope(
    "HealthServicesAnswer", list[HealthServiceRecord], "minsa_his.health-services"
)


VerdictsAnswer = envelope(
    "VerdictsAnswer", list[VerdictRecord], "minsa_his.coresponsibility", period=PERIOD
)


ChildVerdictsAnswer = envelope(
    "ChildVerdictsAnswer",
    list[ChildVerdicts],
    "minsa_his.coresponsibility, one entry a child",
    period=PERIOD,
)
