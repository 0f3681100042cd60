"""``juntos-gateway serve`` as a real process on a loopback port, as ``make run`` starts it."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.database import DatabaseFactory
from tests.fixtures.serving import CLI, PRODUCTION_PARTNER_SECRETS, mock_ports, run_cli, serving
from tests.fixtures.support import free_port


def test_sandbox_serve_seeds_clients_once_and_keeps_keys(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    ports = mock_ports()
    env = {
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": databases.new(),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        **ports,
    }
    assert run_cli(["db", "upgrade"], env, tmp_path).returncode == 0
    with serving(env, tmp_path) as served:
        base = served.base
        seeded = json.loads((tmp_path / "var" / "sandbox-clients.json").read_text())["clients"]
        assert {c["role"] for c in seeded} == {"consumer", "partner", "auditor", "admin"}
        consumer = next(c for c in seeded if c["role"] == "consumer")
        token = httpx.post(
            f"{base}/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": consumer["client_id"],
                "client_secret": consumer["client_secret"],
            },
        ).json()["access_token"]
        services = httpx.get(f"{base}/v1/services", headers={"Authorization": f"Bearer {token}"})
        assert services.status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/docs").status_code == 200
        # The partner mocks run beside the gateway in sandbox mode.
        wsdl = httpx.get(
            f"http://127.0.0.1:{ports['GATEWAY_SANDBOX_RENIEC_PORT']}/ws/ConsultaDni?wsdl"
        )
        assert wsdl.status_code == 200
        assert "consultar" in wsdl.text
        # ...and the gateway brokers to them: a sample adult, through RENIEC's SOAP mock.
        sample = json.loads(
            run_cli(["population", "sample", "--count", "20", "--json"], env, tmp_path).stdout
        )["households"]
        person = next(h for h in sample if h["mother_birth_date"] < "2000-01-01")
        answer = httpx.get(
            f"{base}/v1/persons/{person['mother_dni']}",
            headers={"Authorization": f"Bearer {token}", "X-Purpose": "affiliation"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["dni"] == person["mother_dni"]
    output = served.output
    assert consumer["client_secret"] in output
    assert f"{base}/docs" in output
    # The banner names the partner addresses the gateway calls: here the mocks it started.
    for partner in ("reniec", "osiptel", "bn", "minsa_his"):
        port = ports[f"GATEWAY_SANDBOX_{partner.upper()}_PORT"]
        assert f"{partner:<10} http://127.0.0.1:{port}" in output
    assert "/v1/token" in output
    # The demo's command names this gateway's var directory, which a new shell would not
    # know: its credentials and where the report goes.
    var = tmp_path / "var"
    assert f"(report in {var / 'demo-report.html'}):" in output
    assert (
        f"demo --gateway {base} --credentials {var / 'sandbox-clients.json'} "
        f"--report {var / 'demo-report.html'}"
    ) in output
    assert (tmp_path / "var" / "sandbox-clients.json").stat().st_mode & 0o077 == 0
    # One console user per role, printed with its password and kept beside the clients.
    console_file = tmp_path / "var" / "sandbox-console-users.json"
    console_users = json.loads(console_file.read_text())["users"]
    assert [u["username"] for u in console_users] == [
        "operadora",
        "auditora",
        "agente-his",
        "admin-consola",
    ]
    assert console_file.stat().st_mode & 0o077 == 0
    assert f"{base}/console" in output
    for user in console_users:
        assert f"{user['username']:<14} password={user['password']}" in output

    with serving(env, tmp_path) as served:
        base = served.base
        # Restarted: same clients, and the token issued before the restart still works.
        again = httpx.get(f"{base}/v1/services", headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 200
    output = served.output
    assert "Sandbox clients created" not in output
    assert consumer["client_secret"] not in output
    # The console users are not created again; the banner still says how to sign in.
    assert json.loads(console_file.read_text())["users"] == console_users
    assert f"password={console_users[0]['password']}" in output

    # Another var directory (with a space) on the same database: the demo's paths are
    # quoted for the shell, and the banner says the clients file is not there.
    other = tmp_path / "other var"
    with serving({**env, "GATEWAY_VAR_DIR": str(other)}, tmp_path) as served:
        pass
    clients_file = other / "sandbox-clients.json"
    assert f"--credentials '{clients_file}' --report '{other / 'demo-report.html'}'" in (
        served.output
    )
    assert f"{clients_file} does not exist" in served.output


def test_production_serve_never_seeds_and_refuses_default_key(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    env = {
        "GATEWAY_ENV": "production",
        "GATEWAY_DATABASE_URL": databases.new(),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
    }
    refused = run_cli(["serve"], env, tmp_path)
    assert refused.returncode == 1
    assert "refuses the sandbox default master key" in refused.stderr

    env["GATEWAY_MASTER_KEY"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env.update(mock_ports())
    env.update(PRODUCTION_PARTNER_SECRETS)
    env["GATEWAY_PARTNERS__OSIPTEL__BASE_URL"] = "https://osiptel.example.gob.pe/api"
    assert run_cli(["db", "upgrade"], env, tmp_path).returncode == 0
    with serving(env, tmp_path) as served:
        assert httpx.get(f"{served.base}/readyz").status_code == 200
        # Outside sandbox mode no mock is started.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{env['GATEWAY_SANDBOX_RENIEC_PORT']}/ws/ConsultaDni?wsdl")
    assert not (tmp_path / "var" / "sandbox-clients.json").exists()
    assert "osiptel    https://osiptel.example.gob.pe/api" in served.output
    listed = run_cli(["clients", "list", "--json"], env, tmp_path)
    assert json.loads(listed.stdout) == {"clients": []}


def test_serve_refuses_unmigrated_database(databases: DatabaseFactory, tmp_path: Path) -> None:
    env = {"GATEWAY_ENV": "sandbox", "GATEWAY_DATABASE_URL": databases.new()}
    result = run_cli(["serve"], env, tmp_path)
    assert result.returncode == 1
    assert "juntos-gateway db upgrade" in result.stderr


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal: exit 1, one ``error:`` line on stderr, no banner, no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "JUNTOS gateway" not in result.stdout  # refused before the banner
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


@pytest.mark.parametrize("busy", ["GATEWAY_PORT", "GATEWAY_SANDBOX_OSIPTEL_PORT"])
def test_serve_on_a_busy_port_is_one_line_naming_the_variable(
    databases: DatabaseFactory, tmp_path: Path, busy: str
) -> None:
    env = {
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": databases.new(),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        "GATEWAY_PORT": str(free_port()),
        **mock_ports(),
    }
    assert run_cli(["db", "upgrade"], env, tmp_path).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env[busy] = str(taken.getsockname()[1])
        line = _one_line_error(run_cli(["serve"], env, tmp_path))
    assert f"port {env[busy]} on 127.0.0.1 is in use" in line
    assert line.endswith(f"set {busy} to a free port")


def test_serve_on_an_unreachable_database_is_one_line_naming_the_variable(
    tmp_path: Path,
) -> None:
    closed = free_port()  # nothing listens there
    url = f"postgresql+psycopg://gateway:s3cret-pw@127.0.0.1:{closed}/gateway"
    env = {"GATEWAY_ENV": "sandbox", "GATEWAY_DATABASE_URL": url}
    upgrade = _one_line_error(run_cli(["db", "upgrade"], env, tmp_path))
    assert "GATEWAY_DATABASE_URL" in upgrade
    line = _one_line_error(run_cli(["serve"], env, tmp_path))
    assert f"cannot reach the database postgresql+psycopg://gateway:***@127.0.0.1:{closed}" in line
    assert "s3cret-pw" not in line
    assert "GATEWAY_DATABASE_URL" in line


def test_mocks_command_serves_and_stops_on_interrupt(tmp_path: Path) -> None:
    ports = mock_ports()
    env = {**os.environ, **ports, "GATEWAY_SANDBOX_SIZE": "500000"}
    proc = subprocess.Popen(
        [*CLI, "mocks"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{ports['GATEWAY_SANDBOX_OSIPTEL_PORT']}/v1/lineas"
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = httpx.get(
                    url,
                    params={"tipoDocumento": "DNI", "numeroDocumento": "12345678"},
                    headers={"X-Api-Key": "osiptel-sandbox-juntos"},
                )
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None
        assert response.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, output
    assert "500,000 hogares" in output  # the shell names no language: Spanish
    for port in ports.values():
        assert f"127.0.0.1:{port}" in output


def test_serve_with_worker_processes_shares_one_database(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    env = {
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": databases.new(),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        **mock_ports(),
    }
    assert run_cli(["db", "upgrade"], env, tmp_path).returncode == 0
    with serving(env, tmp_path, "--workers", "2") as served:
        seeded = json.loads((tmp_path / "var" / "sandbox-clients.json").read_text())["clients"]
        consumer = next(c for c in seeded if c["role"] == "consumer")
        form = {
            "grant_type": "client_credentials",
            "client_id": consumer["client_id"],
            "client_secret": consumer["client_secret"],
        }
        token = httpx.post(f"{served.base}/v1/token", data=form, timeout=10).json()
        # Whichever process answers verifies the token: the keys live in the database.
        for _ in range(8):
            answer = httpx.get(
                f"{served.base}/v1/services",
                headers={"Authorization": f"Bearer {token['access_token']}"},
            )
            assert answer.status_code == 200
    assert "Gateway processes: 2" in served.output


def test_commands_beside_make_run_read_its_settings_file(
    databases: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make run`` writes ``var/run.env``; a command typed in the same directory reaches
    the same sandbox without exporting anything, and the environment still wins."""
    url = databases.new()
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "run.env").write_text(
        f'# Written by make run\nGATEWAY_ENV=sandbox\nGATEWAY_DATABASE_URL="{url}"\n'
    )
    for key in ("GATEWAY_ENV", "GATEWAY_DATABASE_URL", "GATEWAY_CLI_ENV_FILE"):
        monkeypatch.delenv(key, raising=False)
    bare: dict[str, str] = {}
    assert run_cli(["db", "upgrade"], bare, tmp_path).returncode == 0
    listed = run_cli(["clients", "list", "--json"], bare, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"clients": []}
    production = run_cli(["clients", "list"], {"GATEWAY_ENV": "production"}, tmp_path)
    assert production.returncode == 1
    assert "sandbox default master key" in production.stderr
    ignored = run_cli(["clients", "list"], {"GATEWAY_CLI_ENV_FILE": ""}, tmp_path)
    assert ignored.returncode == 1
