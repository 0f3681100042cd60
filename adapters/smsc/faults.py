"""Faults of the sandbox SMSC, as an operator's SMS centre shows them.

Set from ``GATEWAY_SANDBOX_FAULTS__SMSC__*`` at start and replaced at run time with
``PUT /_admin/faults`` on the SMSC's admin port. Every ``submit_sm`` and every receipt
draws from a generator seeded by ``seed``, so a sequence of faults is reproducible.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SmscFaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    throttle_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of submit_sm answered ESME_RTHROTTLED."
    )
    refuse_bind: bool = Field(default=False, description="Answer every bind ESME_RBINDFAIL.")
    drop_rate: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of submit_sm accepted, then the connection closed unanswered.",
    )
    receipt_delay_ms: float = Field(
        default=20.0, ge=0, le=3_600_000, description="From acceptance to the receipt."
    )
    undelivered_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of messages ending UNDELIV."
    )
    expired_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of messages ending EXPIRED."
    )
    receipts: bool = Field(default=True, description="False: messages stay pending.")
    seed: int = 0
