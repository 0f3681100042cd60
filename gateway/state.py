"""What one gateway process holds while it runs: settings, catalog, engine, key services.

Nothing here carries request-path state that other processes would need to agree on;
keys, clients and everything else shared live in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import Request
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.auth.tokens import TokenService
from gateway.catalog.models import Catalog
from gateway.core.crypto import SecretBox
from gateway.core.db import create_engine, session_factory
from gateway.keys.service import KeyService
from gateway.settings import Settings


@dataclass
class AppState:
    settings: Settings
    catalog: Catalog
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keys: KeyService
    tokens: TokenService
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)

    @classmethod
    def build(cls, settings: Settings, catalog: Catalog) -> AppState:
        engine = create_engine(settings.database_url)
        keys = KeyService(
            SecretBox(settings.master_key_bytes, "signing-keys"),
            timedelta(seconds=settings.token_ttl_seconds),
        )
        return cls(
            settings=settings,
            catalog=catalog,
            engine=engine,
            sessions=session_factory(engine),
            keys=keys,
            tokens=TokenService(keys, settings.token_issuer, settings.token_ttl_seconds),
        )


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.gateway
    return state
