"""Registers the real partner adapters: one HTTP client and one guard per partner."""

from __future__ import annotations

import httpx

from adapters.bn.client import BankAdapter
from adapters.http import PartnerClient
from adapters.minsa_his.client import HisAdapter
from adapters.osiptel.client import OsiptelAdapter
from adapters.reniec.client import ReniecAdapter
from adapters.smsc.client import SmscAdapter
from gateway.partners.policy import ResilienceSettings
from gateway.partners.ports import (
    Bank,
    CivilRegistry,
    HealthRegistry,
    ShortMessageCentre,
    TelecomRegistry,
)
from gateway.partners.registry import PartnerRegistry
from gateway.partners.resilience import PartnerGuard
from gateway.settings import Settings


def _client(registry: PartnerRegistry, policy: ResilienceSettings) -> httpx.AsyncClient:
    # httpx's interface (which zeep's AsyncTransport needs) over aiohttp's connection
    # handling, several times cheaper per call than httpx's own transport; the
    # adapters' own calls take its shorter path (adapters.http.PartnerClient).
    limits = httpx.Limits(
        max_connections=policy.max_concurrency,
        max_keepalive_connections=policy.max_concurrency,
    )
    client = PartnerClient(
        timeout=httpx.Timeout(
            policy.read_timeout_seconds,
            connect=policy.connect_timeout_seconds,
            pool=policy.bulkhead_wait_seconds,
        ),
        limits=limits,
    )
    registry.on_close(client.aclose)
    return client


def _guard(registry: PartnerRegistry, name: str, policy: ResilienceSettings) -> PartnerGuard:
    guard = PartnerGuard(name, policy, registry.health)
    registry.guards[name] = guard
    return guard


def register(registry: PartnerRegistry, settings: Settings) -> None:
    p = settings.partners
    reniec = ReniecAdapter(
        p.reniec,
        _client(registry, p.reniec),
        _guard(registry, "reniec", p.reniec),
        settings.contracts_dir,
    )
    registry.register(CivilRegistry, reniec)
    registry.register_credential(reniec)
    registry.register(
        TelecomRegistry,
        OsiptelAdapter(
            p.osiptel, _client(registry, p.osiptel), _guard(registry, "osiptel", p.osiptel)
        ),
    )
    registry.register(
        Bank, BankAdapter(p.bn, _client(registry, p.bn), _guard(registry, "bn", p.bn))
    )
    registry.register(
        HealthRegistry,
        HisAdapter(
            p.minsa_his, _client(registry, p.minsa_his), _guard(registry, "minsa_his", p.minsa_his)
        ),
    )
    # SMPP, not HTTP: the adapter holds its own bind (no HTTP client).
    smsc = SmscAdapter(p.smsc, _guard(registry, "smsc", p.smsc))
    registry.register(ShortMessageCentre, smsc)
    registry.on_close(smsc.aclose)
