"""``/v1/subscriptions``: programme systems receive pushed data by webhook or by pull.

Each subscription names a feed and a purpose; the catalog's notice service for that feed
decides whether the client may receive it and exactly which fields (and whether rows need
the subject's consent). Subscribing is audited like any call.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.auth.dependencies import Session
from gateway.calls.answers import documented
from gateway.calls.audited import audited_call
from gateway.calls.caller import Caller
from gateway.calls.validation import invalid
from gateway.core.errors import problem_responses
from gateway.core.i18n import N_
from gateway.core.jsonbody import JSONBodyRoute
from gateway.core.limits import BIGINT_MAX
from gateway.inbound.feeds import NOTICES
from gateway.subscriptions.schemas import Deliveries, DeliveryState, SubscriptionView
from gateway.subscriptions.service import SubscriptionService

DeliveryId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="A delivery's number.")]

router = APIRouter(
    route_class=JSONBodyRoute,
    prefix="/v1/subscriptions",
    tags=["subscriptions"],
    responses=problem_responses(401, 403, 404, 409, 422),
)


class SubscriptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feed: Literal["births", "health-records", "line-changes"]
    mode: Literal["push", "pull"]
    webhook_url: Annotated[str | None, Field(max_length=500)] = None


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionView,
    summary="Subscribe to a pushed feed (webhook or pull)",
)
async def subscribe(body: SubscriptionRequest, call: Caller, session: Session) -> JSONResponse:
    payload = body.model_dump()
    async with audited_call(
        call, NOTICES[body.feed], session=session, request_body=payload
    ) as audited:
        audited.shares_transaction = True  # the subscription and its event commit together
        if body.mode == "push":
            url = body.webhook_url or ""
            if not url.startswith(("https://", "http://")):
                raise invalid("body.webhook_url", N_("a push subscription needs an http(s) URL"))
        elif body.webhook_url is not None:
            raise invalid("body.webhook_url", N_("only push subscriptions take a webhook"))
        created = await call.state.get(SubscriptionService).subscribe(
            session, call.principal.client_id, body.feed, call.purpose, body.mode, body.webhook_url
        )
        audited.respond(None, status=201)
        return JSONResponse(created, status_code=201)


@router.get(
    "/{subscription_id}",
    summary="A subscription and its deliveries by state",
    response_model=None,
    responses=documented(SubscriptionView, "The subscription"),
)
async def get_subscription(subscription_id: str, call: Caller, session: Session) -> dict[str, Any]:
    result: dict[str, Any] = await call.state.get(SubscriptionService).view(
        session, call.principal.client_id, subscription_id
    )
    return result


@router.get(
    "/{subscription_id}/deliveries",
    response_model=Deliveries,
    summary="Pull: pending deliveries with their rows; or, with state, delivery status",
)
async def list_deliveries(
    subscription_id: str,
    call: Caller,
    session: Session,
    state: Annotated[
        Literal["pending", "delivered", "acknowledged", "dead"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> JSONResponse:
    subs = call.state.get(SubscriptionService)
    if state is not None:
        client_id = call.principal.client_id
        items = await subs.deliveries(session, client_id, subscription_id, state, limit)
        return JSONResponse({"deliveries": items})
    view = await subs.view(session, call.principal.client_id, subscription_id)
    async with audited_call(call, NOTICES[view["feed"]]) as audited:
        if view["purpose"] != call.purpose:
            raise invalid("header.X-Purpose", N_("use the purpose the subscription was made for"))
        payloads = await subs.pull(session, call.principal.client_id, subscription_id, limit)
        audited.event.fields = audited.fields
        audited.respond(None)
        return JSONResponse({"deliveries": payloads})


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/ack",
    summary="Pull: acknowledge a delivery so it is not offered again",
    response_model=None,
    responses=documented(DeliveryState, "The delivery, now acknowledged"),
)
async def acknowledge(
    subscription_id: str, delivery_id: DeliveryId, call: Caller, session: Session
) -> dict[str, Any]:
    result: dict[str, Any] = await call.state.get(SubscriptionService).acknowledge(
        session, call.principal.client_id, subscription_id, delivery_id
    )
    return result


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    summary="Push: give a dead delivery another round of attempts",
    response_model=None,
    responses=documented(DeliveryState, "The delivery, pending again", 202),
)
async def retry(
    subscription_id: str, delivery_id: DeliveryId, call: Caller, session: Session
) -> dict[str, Any]:
    await call.state.get(SubscriptionService).redeliver(
        session, call.principal.client_id, subscription_id, delivery_id
    )
    return {"delivery_id": delivery_id, "state": "pending"}
