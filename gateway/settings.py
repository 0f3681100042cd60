"""Runtime configuration from ``GATEWAY_*`` environment variables.

One place decides what a deployment may run with. Sandbox mode exists so that a new user
gets a working gateway with one command; every other mode refuses the well-known sandbox
secrets, so a forgotten variable cannot put a production gateway on public keys.
"""

from __future__ import annotations

import base64
import binascii
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

# Public by design: only sandbox mode accepts it.
SANDBOX_MASTER_KEY = base64.urlsafe_b64encode(b"juntos-sandbox-master-key-0000!!").decode()

Environment = Literal["sandbox", "development", "staging", "production"]


class ConfigurationError(Exception):
    """The configuration cannot be used; the message names the setting to fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore"
    )

    env: Environment = "production"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    database_url: str = "sqlite:///var/gateway.db"
    var_dir: Path = Path("var")
    contracts_dir: Path = REPO_ROOT / "contracts"
    catalog_file: Path | None = None
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    token_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    token_issuer: str = "juntos-gateway"
    log_level: str = "INFO"
    log_json: bool = True

    @property
    def is_sandbox(self) -> bool:
        return self.env == "sandbox"

    @property
    def catalog_path(self) -> Path:
        return self.catalog_file or self.contracts_dir / "policy" / "catalog.yaml"

    @property
    def catalog_schema_path(self) -> Path:
        return self.contracts_dir / "policy" / "catalog.schema.json"

    @cached_property
    def master_key_bytes(self) -> bytes:
        """The 32-byte master key that wraps every stored secret key."""
        if self.master_key is not None and self.master_key_file is not None:
            raise ConfigurationError("set GATEWAY_MASTER_KEY or GATEWAY_MASTER_KEY_FILE, not both")
        if self.master_key_file is not None:
            try:
                raw = self.master_key_file.read_text().strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"GATEWAY_MASTER_KEY_FILE cannot be read: {exc.strerror}"
                ) from None
            source = "GATEWAY_MASTER_KEY_FILE"
        elif self.master_key is not None:
            raw = self.master_key.get_secret_value().strip()
            source = "GATEWAY_MASTER_KEY"
        else:
            raw = SANDBOX_MASTER_KEY
            source = "the sandbox default master key"
        try:
            key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            raise ConfigurationError(f"{source} is not base64") from None
        if len(key) != 32:
            raise ConfigurationError(f"{source} must decode to 32 bytes, got {len(key)}")
        return key

    def check_safe(self) -> None:
        """Refuse to run outside sandbox mode on the public sandbox secrets."""
        key = self.master_key_bytes
        if self.is_sandbox:
            return
        if key == base64.urlsafe_b64decode(SANDBOX_MASTER_KEY):
            raise ConfigurationError(
                f"GATEWAY_ENV={self.env} refuses the sandbox default master key: set "
                "GATEWAY_MASTER_KEY or GATEWAY_MASTER_KEY_FILE to 32 random bytes in base64 "
                "(generate one with `juntos-gateway keys new-master`)"
            )
