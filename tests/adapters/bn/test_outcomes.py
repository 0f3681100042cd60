"""The bank adapter, not the core, says what its ISO 20022 status codes mean."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry

from adapters.bn.client import BankAdapter
from gateway.partners.health import PartnerHealth
from gateway.partners.resilience import PartnerGuard
from gateway.settings import BankSettings


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("ACSC", "paid"),
        ("ACSP", "paid"),
        ("RJCT", "rejected"),
        ("PDNG", "pending"),
        ("ACTC", "pending"),
        (None, "pending"),
    ],
)
async def test_status_codes_map_to_canonical_outcomes(status: str | None, outcome: str) -> None:
    settings = BankSettings()
    guard = PartnerGuard("bn", settings, PartnerHealth(CollectorRegistry()))
    async with httpx.AsyncClient() as http:
        assert BankAdapter(settings, http, guard).outcome(status) == outcome


@pytest.mark.parametrize(
    ("status", "valid"),
    [("ACSC", True), ("RJCT", True), ("ACTC", True), ("acsc", False), ("AC", False), (None, False)],
)
async def test_the_adapter_knows_which_status_codes_exist(status: str | None, valid: bool) -> None:
    settings = BankSettings()
    guard = PartnerGuard("bn", settings, PartnerHealth(CollectorRegistry()))
    async with httpx.AsyncClient() as http:
        message = BankAdapter(settings, http, guard).invalid_status(status)
    assert (message is None) == valid
