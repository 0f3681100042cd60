"""RENIEC's settings: the PIDE endpoint, its WSDL, and the institution's credential
(``GATEWAY_PARTNERS__RENIEC__*``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr, ValidationInfo, field_validator

from gateway.identifiers import IdentifierError, parse_document, parse_ruc
from gateway.partners.policy import ResilienceSettings

SANDBOX_PASSWORD = "juntos-sandbox"


class ReniecSettings(ResilienceSettings):
    """``base_url`` of the SOAP service, ``wsdl`` relative to ``contracts/``, the
    consulting official's DNI, the institution's RUC and the PIDE password."""

    base_url: str = "http://127.0.0.1:8101"
    wsdl: str = "reniec/consulta-dni.wsdl"
    user_dni: str = "40000001"
    ruc: str = "20900000015"

    @field_validator("ruc", "user_dni")
    @classmethod
    def _identifier(cls, value: str, info: ValidationInfo) -> str:
        try:
            if info.field_name == "ruc":
                return parse_ruc(value)
            return parse_document(value).number
        except IdentifierError as exc:
            raise ValueError(str(exc)) from None

    password: SecretStr = SecretStr(SANDBOX_PASSWORD)
    # The field holding the partner's secret (GATEWAY_PARTNERS__RENIEC__PASSWORD).
    secret_field: ClassVar[str] = "password"

    def sandbox_secret_in_use(self) -> bool:
        """True when the password is the public sandbox default."""
        return self.password.get_secret_value() == SANDBOX_PASSWORD
