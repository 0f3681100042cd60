"""The ``juntos-gateway`` command line, run in-process on the database under test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.main import get_command

from gateway import migrate
from gateway.cli import app as cli
from gateway.settings import Settings
from tests.fixtures.cli import env_for, invoke_async, runner
from tests.fixtures.gateway import bearer
from tests.fixtures.serving import PRODUCTION_PARTNER_SECRETS


def all_command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    paths = [list(prefix)]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            paths += all_command_paths(sub, (*prefix, name))
    return paths


def test_every_command_has_help() -> None:
    paths = all_command_paths(get_command(cli))
    assert ["clients", "create"] in paths
    assert ["keys", "rotate"] in paths
    assert ["db", "upgrade"] in paths
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


async def test_clients_create_json_then_token_over_http(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    result = await invoke_async(
        [
            "clients",
            "create",
            "--name",
            "SISFOH",
            "--role",
            "consumer",
            "--purpose",
            "contact",
            "--json",
        ],
        env=env_for(settings),
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert set(created) == {"client_id", "client_secret"}

    token = await http.post("/v1/token", data={"grant_type": "client_credentials", **created})
    assert token.status_code == 200
    access = token.json()["access_token"]
    assert (await http.get("/v1/services", headers=bearer(access))).status_code == 200

    listed = await invoke_async(["clients", "list", "--json"], env=env_for(settings))
    rows = json.loads(listed.output)["clients"]
    assert [r["client_id"] for r in rows] == [created["client_id"]]
    assert created["client_secret"] not in listed.output

    disabled = await invoke_async(
        ["clients", "disable", created["client_id"]], env=env_for(settings)
    )
    assert disabled.exit_code == 0, disabled.output
    assert (await http.get("/v1/services", headers=bearer(access))).status_code == 401


def test_clients_create_refuses_unknown_role_and_purpose(settings: Settings) -> None:
    bad_role = runner.invoke(
        cli, ["clients", "create", "--name", "x", "--role", "root"], env=env_for(settings)
    )
    assert bad_role.exit_code == 2
    assert "--role" in bad_role.output
    bad_purpose = runner.invoke(
        cli,
        ["clients", "create", "--name", "x", "--role", "consumer", "--purpose", "marketing"],
        env=env_for(settings),
    )
    assert bad_purpose.exit_code == 2
    assert "marketing" in bad_purpose.output


async def test_keys_rotate_publishes_new_key(settings: Settings, http: httpx.AsyncClient) -> None:
    before = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
    result = await invoke_async(["keys", "rotate"], env=env_for(settings))
    assert result.exit_code == 0, result.output
    after = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
    assert before < after
    assert len(after) == 2


def test_db_upgrade_is_idempotent(settings: Settings) -> None:
    for _ in range(2):
        result = runner.invoke(cli, ["db", "upgrade"], env=env_for(settings))
        assert result.exit_code == 0, result.output
        assert f"revision {migrate.head_revision(settings.database_url)}" in result.output


def test_catalog_check_reports_line_and_field(tmp_path: Path, settings: Settings) -> None:
    ok = runner.invoke(cli, ["catalog", "check"], env=env_for(settings))
    assert ok.exit_code == 0
    bad = tmp_path / "c.yaml"
    bad.write_text("version: 1\nlegal_bases: {}\n")
    result = runner.invoke(cli, ["catalog", "check", str(bad)], env=env_for(settings))
    assert result.exit_code == 1
    assert f"{bad}:2: legal_bases: " in result.output


@pytest.mark.parametrize("env", ["production", "staging"])
def test_non_sandbox_refuses_default_master_key(settings: Settings, env: str) -> None:
    result = runner.invoke(cli, ["clients", "list"], env={**env_for(settings), "GATEWAY_ENV": env})
    assert result.exit_code == 1
    assert "refuses the sandbox default master key" in result.output


def test_outside_sandbox_every_secret_must_be_set(settings: Settings) -> None:
    key = runner.invoke(cli, ["keys", "new-master"]).output.strip()
    production = {**env_for(settings), "GATEWAY_ENV": "production", "GATEWAY_MASTER_KEY": key}
    refused = runner.invoke(cli, ["db", "current"], env=production)
    assert refused.exit_code == 1
    assert "GATEWAY_PARTNERS__RENIEC__PASSWORD" in refused.output
    assert "GATEWAY_PARTNERS__BN__API_KEY" in refused.output
    result = runner.invoke(cli, ["db", "current"], env=production | PRODUCTION_PARTNER_SECRETS)
    assert result.exit_code == 0, result.output
