"""Typed view of a validated catalog and the questions the gateway asks it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class LocalizedText(_Frozen):
    """A catalog text for people: Spanish (``es``, always there) and English (``en``,
    optional). ``catalog.schema.json`` ``$defs/text``."""

    es: str
    en: str | None = None

    def in_locale(self, locale: str) -> str:
        """The text in ``locale`` (``es`` or ``en``), Spanish where that one is missing."""
        return (self.en if locale == "en" else None) or self.es


def _as_text(value: Any) -> Any:
    # A plain string is the same text in every language (catalogs written before the
    # descriptions were bilingual keep working).
    return {"es": value, "en": value} if isinstance(value, str) else value


CatalogText = Annotated[LocalizedText, BeforeValidator(_as_text)]


class LegalBasis(_Frozen):
    citation: str
    description: CatalogText
    requires_consent: bool


class DataCategory(_Frozen):
    description: CatalogText
    sensitive: bool
    retention_days: int


class Purpose(_Frozen):
    description: CatalogText


class Partner(_Frozen):
    name: str
    protocol: str


class PurposeGrant(_Frozen):
    legal_basis: str
    fields: list[str]


class Service(_Frozen):
    partner: str
    operation: str
    description: CatalogText
    roles: list[str]
    data_category: str
    fields: list[str]
    purposes: dict[str, PurposeGrant]


class ExchangeSpec(_Frozen):
    service: str
    purpose: str
    description: CatalogText
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
