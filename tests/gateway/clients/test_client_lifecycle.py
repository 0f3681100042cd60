"""A client's life over the admin API and the CLI: disable, enable, rotate its secret;
the last active admin stays; every change is in the audit log, never a secret."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from gateway.settings import Settings
from tests.fixtures.cli import env_for, invoke_async
from tests.fixtures.gateway import Credentials, MakeClient, bearer

AUDIT = {"X-Purpose": "audit"}


async def token_for(http: httpx.AsyncClient, creds: Credentials) -> httpx.Response:
    return await http.post(
        "/v1/token",
        auth=(creds.client_id, creds.client_secret),
        data={"grant_type": "client_credentials"},
    )


async def access(http: httpx.AsyncClient, creds: Credentials) -> str:
    response = await token_for(http, creds)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def services(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.get("/v1/services", headers=bearer(token))


async def client_events(http: httpx.AsyncClient, make_client: MakeClient) -> list[dict[str, Any]]:
    auditor = bearer(await access(http, await make_client(["auditor"], ["audit"])))
    response = await http.get(
        "/v1/audit/events", headers=auditor | AUDIT, params={"service": "clients"}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def test_rotate_secret_over_api_stops_old_secret_and_old_tokens(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    admin_creds = await make_client(["admin"])
    admin = bearer(await access(http, admin_creds))
    creds = await make_client(["consumer"], ["contact"])
    old_token = await access(http, creds)
    assert (await services(http, old_token)).status_code == 200

    rotated = await http.post(
        f"/v1/clients/{creds.client_id}/rotate-secret",
        headers=admin | {"X-User-Id": "ana.quispe"},
    )
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["id"] == creds.client_id
    assert body["active"] is True
    new = Credentials(creds.client_id, body["client_secret"])
    assert new.client_secret != creds.client_secret

    refused = await token_for(http, creds)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    # Tokens bought before the rotation (perhaps with a leaked secret) stop at once.
    old = await services(http, old_token)
    assert old.status_code == 401
    assert 'error="invalid_token"' in old.headers["www-authenticate"]
    assert (await services(http, await access(http, new))).status_code == 200

    events = await client_events(http, make_client)
    assert [(e["operation"], e["subject_pseudonyms"]) for e in events] == [
        ("rotate-secret", [f"client:{creds.client_id}"])
    ]
    event = events[0]
    assert event["client_id"] == admin_creds.client_id
    assert event["user_id"] == "ana.quispe"
    assert event["roles"] == ["admin"]
    everything = json.dumps(events)
    assert new.client_secret not in everything
    assert creds.client_secret not in everything


async def test_disable_then_enable_over_api_needs_new_tokens(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    admin_creds = await make_client(["admin"])
    admin = bearer(await access(http, admin_creds))
    creds = await make_client(["consumer"], ["contact"])
    before = await access(http, creds)

    disabled = await http.post(f"/v1/clients/{creds.client_id}/disable", headers=admin)
    assert disabled.status_code == 200
    assert disabled.json()["active"] is False
    assert disabled.json()["disabled_at"] is not None
    assert (await token_for(http, creds)).status_code == 401

    enabled = await http.post(f"/v1/clients/{creds.client_id}/enable", headers=admin)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["active"] is True
    assert enabled.json()["disabled_at"] is None
    # Enabling does not bring back what was issued before the disable.
    assert (await services(http, before)).status_code == 401
    assert (await services(http, await access(http, creds))).status_code == 200
    # Enabling an active client changes nothing (and records nothing).
    again = await http.post(f"/v1/clients/{creds.client_id}/enable", headers=admin)
    assert again.status_code == 200

    events = await client_events(http, make_client)
    assert [e["operation"] for e in events] == ["disable", "enable"]
    assert {e["client_id"] for e in events} == {admin_creds.client_id}

    for action in ("enable", "disable", "rotate-secret"):
        missing = await http.post(f"/v1/clients/cl_doesnotexist/{action}", headers=admin)
        assert missing.status_code == 404, action
        assert missing.json()["type"] == "/problems/not-found"


async def test_last_active_admin_cannot_be_disabled_over_api(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    first_creds = await make_client(["admin"])
    first = bearer(await access(http, first_creds))

    alone = await http.post(f"/v1/clients/{first_creds.client_id}/disable", headers=first)
    assert alone.status_code == 409
    assert alone.headers["content-type"] == "application/problem+json"
    assert alone.json()["type"] == "/problems/last-active-admin"
    listed = (await http.get("/v1/clients", headers=first)).json()["clients"]
    assert [c["active"] for c in listed] == [True]

    second_creds = await make_client(["admin", "auditor"], ["audit"])
    second = bearer(await access(http, second_creds))
    assert (
        await http.post(f"/v1/clients/{second_creds.client_id}/disable", headers=first)
    ).status_code == 200
    assert (
        await http.post(f"/v1/clients/{first_creds.client_id}/disable", headers=first)
    ).status_code == 409

    assert (
        await http.post(f"/v1/clients/{second_creds.client_id}/enable", headers=first)
    ).status_code == 200
    second = bearer(await access(http, second_creds))
    # With another admin active, an admin may step down, itself included.
    stepped_down = await http.post(f"/v1/clients/{first_creds.client_id}/disable", headers=first)
    assert stepped_down.status_code == 200
    assert (await http.get("/v1/clients", headers=first)).status_code == 401
    assert (await http.get("/v1/clients", headers=second)).status_code == 200


async def test_two_admins_disabling_each_other_at_once_leave_one(
    http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    one = await make_client(["admin"])
    two = await make_client(["admin"])
    one_token, two_token = await access(http, one), await access(http, two)

    answers = await asyncio.gather(
        http.post(f"/v1/clients/{two.client_id}/disable", headers=bearer(one_token)),
        http.post(f"/v1/clients/{one.client_id}/disable", headers=bearer(two_token)),
    )
    statuses = sorted(a.status_code for a in answers)
    # One wins; the other is refused as the last admin (409) or, if the winner's
    # change landed before its token was checked, as a disabled client (401).
    assert statuses in ([200, 401], [200, 409]), [a.text for a in answers]
    survivor = one_token if answers[0].status_code == 200 else two_token
    listed = (await http.get("/v1/clients", headers=bearer(survivor))).json()["clients"]
    assert sum(c["active"] for c in listed) == 1


async def test_cli_enable_rotate_and_last_admin(
    settings: Settings, http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    env = env_for(settings)
    created = await invoke_async(
        ["clients", "create", "--name", "mesa de ayuda", "--role", "admin", "--json"]
        + ["--operator", "ana.quispe"],
        env,
    )
    assert created.exit_code == 0, created.output
    admin = json.loads(created.output)

    last = await invoke_async(["clients", "disable", admin["client_id"]], env)
    assert last.exit_code == 3
    assert "last active admin" in last.output

    creds = await make_client(["consumer"], ["contact"])
    before = await access(http, creds)
    rotated = await invoke_async(
        ["clients", "rotate-secret", creds.client_id, "--json", "--operator", "ana.quispe"], env
    )
    assert rotated.exit_code == 0, rotated.output
    new = Credentials(creds.client_id, json.loads(rotated.output)["client_secret"])
    assert (await token_for(http, creds)).status_code == 401
    assert (await services(http, before)).status_code == 401
    after = await access(http, new)
    assert (await services(http, after)).status_code == 200

    disabled = await invoke_async(["clients", "disable", creds.client_id], env)
    assert disabled.exit_code == 0, disabled.output
    assert (await token_for(http, new)).status_code == 401
    enabled = await invoke_async(["clients", "enable", creds.client_id], env)
    assert enabled.exit_code == 0, enabled.output
    assert (await services(http, after)).status_code == 401
    assert (await services(http, await access(http, new))).status_code == 200

    missing = await invoke_async(["clients", "rotate-secret", "cl_doesnotexist"], env)
    assert missing.exit_code == 1
    assert "no client with this id" in missing.output

    events = await client_events(http, make_client)
    assert [(e["operation"], e["subject_pseudonyms"]) for e in events] == [
        ("create", [f"client:{admin['client_id']}"]),
        ("rotate-secret", [f"client:{creds.client_id}"]),
        ("disable", [f"client:{creds.client_id}"]),
        ("enable", [f"client:{creds.client_id}"]),
    ]
    assert all(e["client_id"] is None for e in events)
    assert [e["user_id"] for e in events][:2] == ["ana.quispe", "ana.quispe"]
    assert all(e["user_id"] for e in events)  # the login name when no --operator
    everything = json.dumps(events)
    assert admin["client_secret"] not in everything
    assert new.client_secret not in everything
