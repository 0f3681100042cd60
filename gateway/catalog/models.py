"""Typed view of a validated catalog and the questions the gateway asks it."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class LegalBasis(_Frozen):
    citation: str
    description: str
    requires_consent: bool


class DataCategory(_Frozen):
    description: str
    sensitive: bool
    retention_days: int


class Purpose(_Frozen):
    description: str


class Partner(_Frozen):
    name: str
    protocol: str


class PurposeGrant(_Frozen):
    legal_basis: str
    fields: list[str]


class Service(_Frozen):
    partner: str
    operation: str
    description: str
    roles: list[str]
    data_category: str
    fields: list[str]
    purposes: dict[str, PurposeGrant]


class ExchangeSpec(_Frozen):
    service: str
    purpose: str
    description: str
    every_seconds: int
    chunk_size: int
    lookback_days: int = 1


class Catalog(_Frozen):
    version: int
    legal_bases: dict[str, LegalBasis]
    data_categories: dict[str, DataCategory]
    purposes: dict[str, Purpose]
    partners: dict[str, Partner]
    services: dict[str, Service]
    exchanges: dict[str, ExchangeSpec] = {}

    def usable_services(
        self, roles: Iterable[str], purposes: Iterable[str]
    ) -> dict[str, dict[str, PurposeGrant]]:
        """Per service a client may call, the grants of the purposes it holds."""
        held_roles, held_purposes = set(roles), set(purposes)
        usable: dict[str, dict[str, PurposeGrant]] = {}
        for sid, service in self.services.items():
            if not held_roles & set(service.roles):
                continue
            grants = {p: g for p, g in service.purposes.items() if p in held_purposes}
            if grants:
                usable[sid] = grants
        return usable
