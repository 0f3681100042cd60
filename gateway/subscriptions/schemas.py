"""The answers of feed subscriptions as the OpenAPI contract describes them (see
``gateway.calls.answers`` for how answer models document, not serialise)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from gateway.calls.answers import Record


class NoticeRecord(Record):
    """A row of a pushed feed as a subscription delivers it."""

    cui: str | None = None
    cnv: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    ubigeo_inei: str | None = None
    mother_dni: str | None = None
    appointment_id: str | None = None
    service_date: date | None = None
    item_code: str | None = None
    facility: str | None = None
    lab_value: str | None = None
    dni: str | None = None
    number: str | None = None
    operator: str | None = None
    change: str | None = None
    effective_date: date | None = None


class SubscriptionView(BaseModel):
    """A subscription; ``deliveries`` counts them by state; ``secret`` only once, at
    creation of a push subscription, to verify ``X-Juntos-Signature``."""

    id: str
    feed: str
    purpose: str
    mode: Literal["push", "pull"]
    webhook_url: str | None = None
    active: bool
    deliveries: dict[str, int]
    secret: str | None = None


class DeliveryStatus(BaseModel):
    delivery_id: int
    message_id: str | None = None
    chunk: int | None = None
    state: str
    attempts: int | None = None
    last_error: str | None = None


class DeliveryPayload(BaseModel):
    subscription_id: str
    delivery_id: int
    feed: str
    message_id: str
    chunk: int
    rows: list[NoticeRecord]
    withheld_without_consent: int


class Deliveries(BaseModel):
    """Pending deliveries with their rows (pull), or delivery status (with ``state``)."""

    deliveries: list[DeliveryPayload | DeliveryStatus]


class DeliveryState(BaseModel):
    delivery_id: int
    state: str
