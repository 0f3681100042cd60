"""Banco de la Nación's settings (``GATEWAY_PARTNERS__BN__*``): the API, and the
programme's debtor account and names written into each payment document."""

from __future__ import annotations

from pydantic import Field, SecretStr

from adapters.settings import ApiKeyPartnerSettings


class BankSettings(ApiKeyPartnerSettings):
    """``debtor_account``: 20 digits; ``payment_chunk_size``: transfers per pain.001."""

    base_url: str = "http://127.0.0.1:8103"
    api_key: SecretStr = SecretStr("bn-sandbox-juntos")
    debtor_account: str = Field(default="00000000000000000001", pattern=r"^[0-9]{20}$")
    debtor_name: str = "PROGRAMA NACIONAL JUNTOS"
    initiating_party: str = "JUNTOS"
    payment_chunk_size: int = Field(default=500, ge=1, le=10_000)
