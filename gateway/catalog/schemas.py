from __future__ import annotations

from pydantic import BaseModel, Field


class PurposeAccess(BaseModel):
    purpose: str
    legal_basis: str
    legal_basis_citation: str
    consent_required: bool
    fields: list[str]


class ServiceAccess(BaseModel):
    id: str
    partner: str
    operation: str
    description: str = Field(
        description="The catalog's description, in the language of the answer's "
        "Content-Language (Accept-Language negotiated; Spanish by default)."
    )
    data_category: str
    purposes: list[PurposeAccess]


class ServiceList(BaseModel):
    client_id: str
    services: list[ServiceAccess]
