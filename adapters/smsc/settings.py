"""The SMS centre's settings (``GATEWAY_PARTNERS__SMSC__*``).

``base_url`` is the SMSC's SMPP address as ``smpp://host:port`` (2775 is SMPP's
registered port); ``system_id`` and ``password`` are the ESME account the operator
issued; ``messages_per_second`` and the sending hours are the operator's window;
``window_size`` is the SMSC's window of ``deliver_sm`` awaiting acknowledgement.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr

from gateway.partners.policy import ResilienceSettings


class SmscSettings(ResilienceSettings):
    """The SMPP 3.4 link to the operator's SMSC (sandbox defaults)."""

    base_url: str = "smpp://127.0.0.1:2775"
    system_id: str = Field(default="juntos", max_length=15)
    password: SecretStr = SecretStr("smsc-sbx")  # SMPP 3.4: at most 8 octets
    system_type: str = Field(default="", max_length=12)
    # The sender shown on the phone: an alphanumeric sender id (TON 5).
    source_addr: str = Field(default="JUNTOS", max_length=11)
    # service_type of every reminder; a resend with replace_if_present_flag replaces a
    # copy of it still pending at the SMSC instead of delivering a second one.
    service_type: str = Field(default="JNT", max_length=5)
    # The destination's country code, put before the national mobile number.
    country_code: str = Field(default="51", pattern=r"^\d{1,3}$")
    # The SMSC's window: the deliver_sm (receipts, replies) it sends on a bind before it
    # waits for their acknowledgements (SMPP 3.4 section 2.7), as the operator states it
    # with the account (the sandbox SMSC's is 64). The gateway stores that many receipts
    # together as soon as they are in, without waiting for more.
    window_size: int = Field(default=64, ge=1, le=10_000)
    # The operator's rate: at most this many submit_sm per second on the bind ...
    messages_per_second: float = Field(default=50.0, gt=0, le=10_000)
    # ... and only between these hours (local time of ``time_zone``, end excluded).
    sending_from_hour: int = Field(default=8, ge=0, le=23)
    sending_to_hour: int = Field(default=20, ge=1, le=24)
    time_zone: str = "America/Lima"
    # A bind is kept alive with enquire_link at this interval while idle.
    enquire_link_seconds: float = Field(default=30.0, gt=0)
    secret_field: ClassVar[str] = "password"

    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.base_url)
        return parts.hostname or "127.0.0.1", parts.port or 2775

    def sandbox_secret_in_use(self) -> bool:
        """True when the password is the public sandbox default."""
        default = type(self).model_fields["password"].default
        return isinstance(default, SecretStr) and self.password == default
