from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1)
    purposes: list[str] = Field(default_factory=list)


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    roles: list[str]
    purposes: list[str]
    active: bool
    created_at: datetime
    disabled_at: datetime | None


class ClientCreated(ClientOut):
    client_secret: str = Field(description="Shown once; only its hash is stored.")


class ClientList(BaseModel):
    clients: list[ClientOut]
