"""Runtime configuration from ``GATEWAY_*`` environment variables.

One place decides what a deployment may run with. Sandbox mode exists so that a new user
gets a working gateway with one command; every other mode refuses the well-known sandbox
secrets, so a forgotten variable cannot put a production gateway on public keys.

Each partner's settings model belongs to its adapter package (``adapters/<partner>/
settings.py``, plain models with no client behind them); this module only composes them
under ``partners``.
"""

from __future__ import annotations

import base64
import binascii
from functools import cached_property
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.bn.settings import BankSettings
from adapters.minsa_his.settings import HisSettings
from adapters.osiptel.settings import OsiptelSettings
from adapters.reniec.settings import ReniecSettings
from adapters.smsc.settings import SmscSettings

REPO_ROOT = Path(__file__).resolve().parent.parent

# Public by design: only sandbox mode accepts it.
SANDBOX_MASTER_KEY = base64.urlsafe_b64encode(b"juntos-sandbox-master-key-0000!!").decode()

Environment = Literal["sandbox", "development", "staging", "production"]


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for a marked message
    """Mark ``message`` for extraction (the ``cli`` catalog); translated where it is shown."""
    return message


class ConfigurationError(Exception):
    """The configuration cannot be used; the message names the setting to fix.

    ``message`` is an English message id (``N_``-marked) and ``params`` fill it, so that
    the command line can show it in the shell's language (``gateway.cli.common``);
    ``str()`` is the English text."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message.format(**params))
        self.message = message
        self.params = params


class PartnerSecret(Protocol):
    """What every partner's settings model tells about its secret."""

    secret_field: ClassVar[str]

    def sandbox_secret_in_use(self) -> bool: ...


class PartnersSettings(BaseModel):
    """Each partner's settings, as its adapter package defines them
    (``GATEWAY_PARTNERS__<PARTNER>__<FIELD>``)."""

    reniec: ReniecSettings = ReniecSettings()
    osiptel: OsiptelSettings = OsiptelSettings()
    bn: BankSettings = BankSettings()
    minsa_his: HisSettings = HisSettings()
    smsc: SmscSettings = SmscSettings()

    def sandbox_secrets_in_use(self) -> list[str]:
        """The variables still holding a public sandbox credential, in field order; each
        partner's model says which field is its secret and whether it is the default."""
        used = []
        for name in type(self).model_fields:
            partner: PartnerSecret = getattr(self, name)
            if partner.sandbox_secret_in_use():
                field = partner.secret_field.upper()
                used.append(f"GATEWAY_PARTNERS__{name.upper()}__{field}")
        return used


class ConsoleSettings(BaseModel):
    """The web console's sign-in and sessions (``GATEWAY_CONSOLE__<FIELD>``).

    A session ends after ``idle_timeout_seconds`` without a request (15 minutes by
    default, the usual figure for an administrative console on a shared office machine)
    and in any case ``absolute_timeout_seconds`` after sign-in (8 hours: one working day).
    After ``lockout_attempts`` wrong passwords in a row an account refuses every sign-in,
    the right password included, for ``lockout_seconds``.

    With ``oidc_issuer`` and ``oidc_client_id`` set, people may also sign in at an
    OpenID Connect identity provider (a ministry's): authorization code flow with PKCE,
    the ID token checked against the provider's keys, roles read from
    ``oidc_roles_claim`` (through ``oidc_role_map`` when set) and the username from
    ``oidc_username_claim``.
    """

    idle_timeout_seconds: int = Field(
        default=900, ge=1, le=86400, description="Session ends after this long without a request."
    )
    absolute_timeout_seconds: int = Field(
        default=8 * 3600, ge=60, le=7 * 86400, description="Session ends this long after sign-in."
    )
    lockout_attempts: int = Field(
        default=5, ge=1, le=100, description="Wrong passwords in a row that lock an account."
    )
    lockout_seconds: int = Field(
        default=900, ge=1, le=86400, description="How long a locked account refuses sign-in."
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer URL; with a client id, the sign-in page offers "
        "signing in at this identity provider (discovery at its "
        "/.well-known/openid-configuration).",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_username_claim: str = Field(
        default="preferred_username", description="The ID token claim used as username."
    )
    oidc_roles_claim: str = Field(
        default="roles", description="The ID token claim listing the person's roles."
    )
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict,
        description="Claim value to console role, as JSON; empty: values that are console "
        "role names are taken as they are.",
    )
    oidc_partner_claim: str = Field(
        default="partner", description="The claim naming a partner agent's partner."
    )
    oidc_redirect_base: str | None = Field(
        default=None,
        description="The gateway's public base URL for the redirect back from the identity "
        "provider (default: the address of the request).",
    )

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", env_nested_delimiter="__", extra="ignore"
    )

    env: Environment = "production"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="Gateway processes for serve.")
    database_url: str = "sqlite:///var/gateway.db"
    var_dir: Path = Path("var")
    contracts_dir: Path = REPO_ROOT / "contracts"
    catalog_file: Path | None = None
    ubigeo_file: Path | None = Field(
        default=None,
        description="District table (ubigeo_distrito.csv format); default: the bundled "
        "synthetic table.",
    )
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    token_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    token_issuer: str = "juntos-gateway"
    purge_interval_seconds: float = Field(
        default=3600, ge=0, description="How often a running gateway purges (0: never)."
    )
    statistics_interval_seconds: float = Field(
        default=15.0,
        ge=0,
        description="How often a running gateway analyzes its PostgreSQL tables that changed "
        "beyond autovacuum's threshold since their last ANALYZE (0: never; nothing on SQLite).",
    )
    audit_seal_interval_seconds: float = Field(
        default=0.5, ge=0, description="How often the sealer chains new audit events (0: off)."
    )
    audit_checkpoint_every: int = Field(default=1000, ge=1, le=1_000_000)
    audit_checkpoint_seconds: float = Field(default=10.0, gt=0)
    audit_gap_grace_seconds: float = Field(default=30.0, gt=0)
    audit_verify_stretch: int = Field(
        default=100_000,
        ge=1,
        le=10_000_000,
        description="Events the console's verification checks per request (a step of its "
        "progress).",
    )
    audit_archive_dir: Path = Path("var/audit-archive")
    exchanges_worker: bool = Field(
        default=True, description="Run the scheduler and exchange worker inside serve."
    )
    exchanges_poll_seconds: float = Field(default=2.0, gt=0)
    inbound_max_message_bytes: int = Field(
        default=1024 * 1024 * 1024, ge=1024, description="Largest pushed body (413 above)."
    )
    inbound_max_row_bytes: int = Field(
        default=64 * 1024, ge=256, le=16 * 1024 * 1024, description="Longest pushed row (413)."
    )
    exchanges_lease_seconds: float = Field(default=30.0, gt=0)
    rate_limit_per_minute: int = Field(
        default=60_000,
        ge=0,
        description="Requests per client per minute, across all processes (0: no limit).",
    )
    registry_refresh_ms: int = Field(
        default=500,
        ge=0,
        le=60_000,
        description=(
            "How stale each process's cache of clients and signing keys may be: a client "
            "disabled, a grant withdrawn or a key rotated applies in every process within "
            "this many milliseconds (0: checked on every request)."
        ),
    )
    log_level: str = "INFO"
    log_json: bool = True
    partners: PartnersSettings = PartnersSettings()
    console: ConsoleSettings = ConsoleSettings()
    adapters: str = Field(
        default="adapters.wiring:register",
        description="The function that registers partner adapters (module:function).",
    )

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
            raise ConfigurationError(
                N_("set GATEWAY_MASTER_KEY or GATEWAY_MASTER_KEY_FILE, not both")
            )
        if self.master_key_file is not None:
            try:
                raw = self.master_key_file.read_text().strip()
            except OSError as exc:
                raise ConfigurationError(
                    N_("GATEWAY_MASTER_KEY_FILE cannot be read: {reason}"), reason=exc.strerror
                ) from None
            source = "GATEWAY_MASTER_KEY_FILE"
        elif self.master_key is not None:
            raw = self.master_key.get_secret_value().strip()
            source = "GATEWAY_MASTER_KEY"
        else:
            raw = SANDBOX_MASTER_KEY
            source = N_("the sandbox default master key")
        try:
            key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except (binascii.Error, ValueError):
            raise ConfigurationError(N_("{source} is not base64"), source=source) from None
        if len(key) != 32:
            raise ConfigurationError(
                N_("{source} must decode to 32 bytes, got {length}"), source=source, length=len(key)
            )
        return key

    def check_safe(self) -> None:
        """Refuse to run outside sandbox mode on the public sandbox secrets."""
        key = self.master_key_bytes
        if self.is_sandbox:
            return
        if key == base64.urlsafe_b64decode(SANDBOX_MASTER_KEY):
            raise ConfigurationError(
                N_(
                    "GATEWAY_ENV={env} refuses the sandbox default master key: set "
                    "GATEWAY_MASTER_KEY or GATEWAY_MASTER_KEY_FILE to 32 random bytes in base64 "
                    "(generate one with `juntos-gateway keys new-master`)"
                ),
                env=self.env,
            )
        defaults = self.partners.sandbox_secrets_in_use()
        if defaults:
            raise ConfigurationError(
                N_("GATEWAY_ENV={env} refuses the sandbox partner credentials: set {variables}"),
                env=self.env,
                variables=", ".join(defaults),
            )
