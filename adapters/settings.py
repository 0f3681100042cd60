"""What the REST partners' settings share: an address and an API key.

Each partner's own settings model lives in its package (``adapters/<partner>/settings.py``);
``gateway.settings`` composes them under ``GATEWAY_PARTNERS__<PARTNER>__*``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from gateway.partners.policy import ResilienceSettings


class ApiKeyPartnerSettings(ResilienceSettings):
    """A partner reached over REST with an ``X-Api-Key`` header."""

    base_url: str
    api_key: SecretStr
    # The field holding the partner's secret (GATEWAY_PARTNERS__<PARTNER>__API_KEY).
    secret_field: ClassVar[str] = "api_key"

    def sandbox_secret_in_use(self) -> bool:
        """True when the API key is the public sandbox default of this partner."""
        default = type(self).model_fields["api_key"].default
        return isinstance(default, SecretStr) and self.api_key == default
