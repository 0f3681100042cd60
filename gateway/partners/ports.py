"""One Protocol per partner capability; adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol, runtime_checkable

from gateway.partners.models import Account, HealthHistory, NewbornPage, Person, PhoneLine


@runtime_checkable
class CivilRegistry(Protocol):
    """RENIEC: identities and the newborn extract."""

    async def person(self, dni: str) -> Person: ...

    async def newborns(
        self,
        ubigeos: Sequence[str],
        born_from: date,
        born_to: date,
        cursor: str | None,
        limit: int,
    ) -> NewbornPage: ...


@runtime_checkable
class TelecomRegistry(Protocol):
    """OSIPTEL: mobile lines registered to a document."""

    async def phone_lines(self, dni: str) -> list[PhoneLine]: ...


@runtime_checkable
class Bank(Protocol):
    """Banco de la Nación: Cuenta DNI accounts."""

    async def open_account(self, dni: str, check_digit: str | None, request_id: str) -> Account: ...

    async def account(self, dni: str) -> Account: ...


@runtime_checkable
class HealthRegistry(Protocol):
    """MINSA HIS: health services given to a child."""

    async def health_history(self, cui: str) -> HealthHistory: ...
