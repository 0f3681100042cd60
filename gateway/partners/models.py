"""Canonical types exchanged between the gateway core and the partner adapters.

Each type that the gateway hands on (an answer, an extract row) says once, in its
``as_record()``, how it reads as a plain JSON-ready record; routes, batches, exchanges
and feeds project from those records instead of writing the conversion again.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, NamedTuple

# What became of a transfer, whatever the bank's own codes: the bank adapter maps them.
Outcome = Literal["paid", "rejected", "pending"]


@dataclass(frozen=True)
class Person:
    """A person as RENIEC's ``consultar`` returns them. ``place_name`` is RENIEC's
    ``datosPersona/ubigeo`` text ``DEPARTAMENTO/PROVINCIA/DISTRITO`` (names, in no
    code's coding); ``ubigeo`` is the district's 6-digit INEI code when the gateway's
    district table knows that place name (the gateway fills it in), else None."""

    dni: str
    first_surname: str
    second_surname: str
    given_names: str
    address: str
    marital_status: str
    place_name: str
    restriction: str
    photo: bytes | None
    ubigeo: str | None = None

    def as_record(self) -> dict[str, Any]:
        """Every field, JSON-ready; ``photo`` as base64 text (None: no photo)."""
        return {
            "dni": self.dni,
            "first_surname": self.first_surname,
            "second_surname": self.second_surname,
            "given_names": self.given_names,
            "address": self.address,
            "marital_status": self.marital_status,
            "place_name": self.place_name,
            "ubigeo": self.ubigeo,
            "restriction": self.restriction,
            "photo": base64.b64encode(self.photo).decode() if self.photo else None,
        }


@dataclass(frozen=True)
class Newborn:
    """A Padrón Nominal row. ``ubigeo`` is the district's INEI code (the Padrón's
    ``coUbigeoInei``)."""

    cui: str
    cnv: str
    birth_date: date
    sex: str
    birth_weight_g: int
    health_facility: str
    ubigeo: str
    mother_dni: str
    mother_names: str
    child_names: str
    social_programs: tuple[str, ...] = ()
    alive: bool = True

    def as_record(self) -> dict[str, Any]:
        """Every field, JSON-ready (a purpose's projection picks from these)."""
        return {
            "cui": self.cui,
            "cnv": self.cnv,
            "birth_date": self.birth_date.isoformat(),
            "sex": self.sex,
            "birth_weight_g": self.birth_weight_g,
            "health_facility": self.health_facility,
            "ubigeo": self.ubigeo,
            "mother_dni": self.mother_dni,
            "mother_names": self.mother_names,
            "child_names": self.child_names,
            "social_programs": list(self.social_programs),
            "alive": self.alive,
        }


@dataclass(frozen=True)
class NewbornPage:
    items: tuple[Newborn, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class PhoneLine:
    number: str
    operator: str
    modality: str

    def as_record(self) -> dict[str, Any]:
        """``number``, ``operator``, ``modality``."""
        return {"number": self.number, "operator": self.operator, "modality": self.modality}


@dataclass(frozen=True)
class Account:
    dni: str
    account_number: str
    cci: str
    status: str
    opened_at: datetime
    newly_opened: bool = False

    def as_record(self) -> dict[str, Any]:
        """The account as answered (``opened_at`` ISO 8601); ``newly_opened`` is how the
        call went, not part of the record."""
        return {
            "dni": self.dni,
            "account_number": self.account_number,
            "cci": self.cci,
            "status": self.status,
            "opened_at": self.opened_at.isoformat(),
        }


@dataclass(frozen=True)
class OpeningRefused:
    """One holder of a mass opening that the bank did not open, with the bank's code
    (never the holder's data)."""

    status: int
    code: str


@dataclass(frozen=True)
class CardDelivery:
    """A debit card of a Cuenta DNI handed to its holder, as the bank's delivery extract
    reports it (``contracts/bn/card-deliveries.md``)."""

    dni: str
    account_number: str
    delivered_on: date

    def as_record(self) -> dict[str, Any]:
        """``dni``, ``account_number``, ``delivered_on`` (ISO 8601 date)."""
        return {
            "dni": self.dni,
            "account_number": self.account_number,
            "delivered_on": self.delivered_on.isoformat(),
        }


@dataclass(frozen=True)
class CardDeliveryPage:
    items: tuple[CardDelivery, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class HealthHistory:
    birth_date: date
    services: tuple[HealthService, ...]


class HealthService(NamedTuple):
    """One service HIS recorded for a child (a row of HIS's attention record). A named
    tuple rather than a frozen dataclass: a verification pass builds one per row of
    every child's history, and a tuple is built in a third of the time."""

    appointment_id: str
    service_date: date
    facility: str
    item_code: str
    diagnosis_type: str
    lab_value: str
    age_value: int
    age_unit: str
    weight: float | None
    height: float | None
    hemoglobin: float | None

    def as_record(self) -> dict[str, Any]:
        """The service as answered (``service_date`` ISO 8601); the age at the service
        is HIS's bookkeeping, not part of the record."""
        return {
            "appointment_id": self.appointment_id,
            "service_date": self.service_date.isoformat(),
            "facility": self.facility,
            "item_code": self.item_code,
            "diagnosis_type": self.diagnosis_type,
            "lab_value": self.lab_value,
            "weight": self.weight,
            "height": self.height,
            "hemoglobin": self.hemoglobin,
        }


@dataclass(frozen=True)
class PaymentStatus:
    end_to_end_id: str
    # the bank's own status code; ``Bank.outcome`` says what it means
    status: str | None
    reason: str | None = None


@dataclass(frozen=True)
class PaymentReport:
    """What the bank answered for one submitted batch (from its pain.002).

    ``transactions`` carry their effective status (their own, else their payment
    information block's, else the group's); ``unlisted_status`` and ``unlisted_reason``
    apply to every transfer of the original message that the report does not list (a
    group- or block-level status without a transaction list)."""

    original_msg_id: str
    group_status: str | None
    group_reason: str | None
    transactions: tuple[PaymentStatus, ...]
    unlisted_status: str | None = None
    unlisted_reason: str | None = None


@dataclass(frozen=True)
class SettledPayment:
    """One debit booked on the programme's account (from camt.054)."""

    end_to_end_id: str
    amount: str
    booking_date: date
    msg_id: str | None

    def as_record(self) -> dict[str, Any]:
        """JSON-ready, as staged by the reconciliation exchange and the camt.054 feed."""
        return {
            "end_to_end_id": self.end_to_end_id,
            "amount": self.amount,
            "booking_date": self.booking_date.isoformat(),
            "msg_id": self.msg_id,
        }


@dataclass(frozen=True)
class Transfer:
    """One credit transfer of a payment batch."""

    end_to_end_id: str
    amount: str  # soles, two decimals
    creditor_name: str
    creditor_cci: str


@dataclass(frozen=True)
class ExtractPage:
    """One page of a partner's bulk extract: rows as plain records, and where to go on."""

    rows: tuple[dict[str, Any], ...]
    next_cursor: str | None


# What became of a short message at the SMS centre, whatever its receipt codes: the
# SMSC adapter maps them (SMPP 3.4 Appendix B ``stat``).
MessageOutcome = Literal["delivered", "failed", "expired"]


@dataclass(frozen=True)
class DeliveryReport:
    """The SMS centre's final word on one submitted message, by the id it gave it.
    ``error`` is the network's error code as the SMSC wrote it ("000": none)."""

    message_id: str
    outcome: MessageOutcome
    status: str
    error: str
    done_at: datetime


@dataclass(frozen=True)
class MobileOriginated:
    """A message a phone sent to the programme's sender id: ``phone`` is the national
    number (no country code), ``text`` as typed."""

    phone: str
    text: str


SmsEvent = DeliveryReport | MobileOriginated
