"""MINSA HIS's settings (``GATEWAY_PARTNERS__MINSA_HIS__*``)."""

from __future__ import annotations

from pydantic import SecretStr

from adapters.settings import ApiKeyPartnerSettings


class HisSettings(ApiKeyPartnerSettings):
    """The health information system's address and API key (sandbox defaults)."""

    base_url: str = "http://127.0.0.1:8104"
    api_key: SecretStr = SecretStr("his-sandbox-juntos")
