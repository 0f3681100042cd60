"""OSIPTEL's settings (``GATEWAY_PARTNERS__OSIPTEL__*``)."""

from __future__ import annotations

from pydantic import SecretStr

from adapters.settings import ApiKeyPartnerSettings


class OsiptelSettings(ApiKeyPartnerSettings):
    """The lines registry's address and API key (sandbox defaults)."""

    base_url: str = "http://127.0.0.1:8102"
    api_key: SecretStr = SecretStr("osiptel-sandbox-juntos")
