"""Settings of the partner sandbox: population, mock ports, credentials and faults.

Read from ``GATEWAY_SANDBOX_*`` variables (nested with ``__``), plus
``GATEWAY_UBIGEO_FILE`` for the district table. Example:
``GATEWAY_SANDBOX_SIZE=500000 GATEWAY_SANDBOX_FAULTS__RENIEC__ERROR_RATE=0.1``.
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.sandbox.districts import load_districts
from adapters.sandbox.faults import FaultConfig
from adapters.sandbox.population import Population
from adapters.smsc.faults import SmscFaults

#: The mock agencies and the SMS centre, in the order they are started and listed.
PARTNERS = ("reniec", "osiptel", "bn", "minsa_his", "smsc")


class PartnerFaults(BaseModel):
    reniec: FaultConfig = FaultConfig()
    osiptel: FaultConfig = FaultConfig()
    bn: FaultConfig = FaultConfig()
    minsa_his: FaultConfig = FaultConfig()
    smsc: SmscFaults = SmscFaults()


class ReniecUser(BaseModel):
    """An official registered to query RENIEC on behalf of an entity."""

    dni: str
    ruc: str
    password: str
    password_expired: bool = False


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_SANDBOX_", env_nested_delimiter="__", extra="ignore"
    )

    seed: int = 2020
    size: int = Field(default=10_000, ge=1, le=25_000_000)
    # None: the calibration's shares by age (adapters/sandbox/calibration.toml).
    compliance_rate: float | None = Field(default=None, ge=0, le=1)
    as_of: date = date(2021, 3, 1)
    ubigeo_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("GATEWAY_UBIGEO_FILE", "ubigeo_file")
    )
    host: str = "127.0.0.1"
    reniec_port: int = 8101
    osiptel_port: int = 8102
    bn_port: int = 8103
    minsa_his_port: int = 8104
    # The SMS centre: SMPP on its registered port, its admin API (faults, replies) on HTTP.
    smsc_port: int = 2775
    smsc_admin_port: int = 8105
    smsc_system_id: str = "juntos"
    smsc_password: str = "smsc-sbx"
    reniec_users: list[ReniecUser] = [
        ReniecUser(dni="40000001", ruc="20900000015", password="juntos-sandbox"),
        ReniecUser(
            dni="40000002", ruc="20900000015", password="old-password", password_expired=True
        ),
    ]
    reniec_daily_quota: int = Field(default=1_000_000, ge=0)
    osiptel_api_keys: dict[str, bool] = {
        "osiptel-sandbox-juntos": True,  # purpose allows unmasked numbers
        "osiptel-sandbox-public": False,  # masked, as the public "Checa tus líneas"
    }
    bn_api_key: str = "bn-sandbox-juntos"
    bn_debtor_account: str = "00000000000000000001"
    bn_debtor_balance: float = 200_000_000.0
    his_api_key: str = "his-sandbox-juntos"
    faults: PartnerFaults = PartnerFaults()

    @cached_property
    def population(self) -> Population:
        return Population(
            load_districts(self.ubigeo_file),
            seed=self.seed,
            size=self.size,
            compliance_rate=self.compliance_rate,
            as_of=self.as_of,
        )
