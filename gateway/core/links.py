"""OpenAPI links: where one operation's answer feeds the next (OpenAPI 3.1 §4.8.20).

A client, or a stateful test generator, reads from the contract that the ``id`` in the
answer to ``POST /v1/consents`` is the ``consent_id`` of ``GET /v1/consents/{consent_id}``,
that a page's ``next_cursor`` is the next request's ``cursor``, and so on. Each link
names its target by ``operationId`` and maps the target's parameters to runtime
expressions (``$response.body#/data/id``, ``$request.path.name``).

The bearer token of ``POST /v1/token`` feeds every other call through the security
scheme, not a parameter, so OpenAPI has no link for it.
"""

from __future__ import annotations

from typing import Any

Links = dict[str, dict[str, dict[str, Any]]]


def _to(operation_id: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": parameters}


def _pages(operation_id: str) -> dict[str, dict[str, Any]]:
    return {"200": {"NextPage": _to(operation_id, cursor="$response.body#/next_cursor")}}


LINKS: dict[str, Links] = {
    "register_client": {
        "201": {"DisableClient": _to("disable", client_id="$response.body#/client_id")}
    },
    "create_consent": {
        "201": {
            "GetConsent": _to("get_consent", consent_id="$response.body#/data/id"),
            "RevokeConsent": _to("revoke_consent", consent_id="$response.body#/data/id"),
        }
    },
    "open_account": {
        "201": {"GetAccount": _to("get_account", dni="$request.body#/dni")},
        "200": {"GetAccount": _to("get_account", dni="$request.body#/dni")},
    },
    "trigger_exchange_run": {
        "202": {
            "GetRun": _to(
                "get_exchange_run", name="$request.path.name", run_id="$response.body#/id"
            ),
            "GetRecords": _to(
                "exchange_run_records", name="$request.path.name", run_id="$response.body#/id"
            ),
        }
    },
    "create_payment_run": {
        "201": {"GetPaymentRun": _to("get_payment_run", run_id="$response.body#/data/id")}
    },
    "subscribe": {
        "201": {
            "GetSubscription": _to("get_subscription", subscription_id="$response.body#/id"),
            "ListDeliveries": _to("list_deliveries", subscription_id="$response.body#/id"),
        }
    },
    "list_events": _pages("list_events"),
    "list_checkpoints": _pages("list_checkpoints"),
    "disclosures": {
        "200": {
            "NextPage": _to(
                "disclosures", dni="$request.path.dni", cursor="$response.body#/next_cursor"
            )
        }
    },
    "list_newborns": {
        "200": {
            "NextPage": _to(
                "list_newborns",
                born_from="$request.query.born_from",
                born_to="$request.query.born_to",
                cursor="$response.body#/next_cursor",
            )
        }
    },
}


def document_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Add :data:`LINKS` to the responses of the contract's operations."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, links in LINKS.get(operation.get("operationId", ""), {}).items():
                response = operation.setdefault("responses", {}).setdefault(
                    status, {"description": "Successful Response"}
                )
                response["links"] = links
    return schema
