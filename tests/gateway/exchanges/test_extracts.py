"""Every exchange the catalog declares has an extract registered for its service."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from gateway.exchanges.extracts import EXTRACTS, extract_for


async def test_every_declared_exchange_has_an_extract(app: FastAPI) -> None:
    catalog = app.state.gateway.catalog
    assert {spec.service for spec in catalog.exchanges.values()} <= set(EXTRACTS)
    with pytest.raises(KeyError):
        extract_for("reniec.consultar")
