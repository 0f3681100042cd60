"""``juntos-gateway users``: console users created, listed, disabled and given a new
password from a shell, each change audited with the operator as actor."""

from __future__ import annotations

import asyncio
import json

from fastapi import FastAPI

from gateway.cli import app as cli
from gateway.settings import Settings
from tests.fixtures.cli import env_for, invoke_async, runner
from tests.fixtures.gateway import audit_log


async def test_create_list_disable_and_reset(app: FastAPI, settings: Settings) -> None:
    unset = {"LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": ""}
    env = {**env_for(settings), **unset, "LANG": "es_PE.UTF-8"}
    created = await invoke_async(
        [
            "users",
            "create",
            "mquispe",
            "--role",
            "auditor",
            "--name",
            "María Quispe",
            "--operator",
            "root-op",
        ],
        env,
    )
    assert created.exit_code == 0, created.output
    assert "usuario de la consola mquispe creado" in created.output
    assert "password=" in created.output
    agent = await asyncio.to_thread(
        runner.invoke,
        cli,
        [
            "users",
            "create",
            "his1",
            "--role",
            "partner-agent",
            "--partner",
            "minsa_his",
            "--password-stdin",
        ],
        env={**env, "LANG": "en_US.UTF-8"},
        input="a long enough password\n",
    )
    assert agent.exit_code == 0, agent.output
    assert "console user his1 created" in agent.output
    assert "password=" not in agent.output
    refused = await invoke_async(["users", "create", "x1", "--role", "partner-agent"], env)
    assert refused.exit_code == 2
    assert "--partner" in refused.output
    listed = await invoke_async(["users", "list", "--json"], env)
    users = {u["username"]: u for u in json.loads(listed.output)["users"]}
    assert users["his1"]["partner"] == "minsa_his"
    assert users["mquispe"]["roles"] == ["auditor"]
    assert (await invoke_async(["users", "disable", "mquispe"], env)).exit_code == 0
    reset = await invoke_async(["users", "reset-password", "mquispe"], env)
    assert reset.exit_code == 0
    assert "password=" in reset.output
    unknown = await invoke_async(["users", "disable", "nobody"], env)
    assert unknown.exit_code == 2
    events = [(e["service"], e["user_id"]) for e in await audit_log(app)]
    assert ("console.user-create", "root-op") in events
    assert [service for service, _ in events[-2:]] == [
        "console.user-disable",
        "console.user-reset-password",
    ]
