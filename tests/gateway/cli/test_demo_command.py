"""``juntos-gateway demo`` refuses what it cannot play before starting anything: the
programme's register files go with ``--gateway`` only, and must be there."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app as cli
from tests.fixtures.serving import ENGLISH


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["demo", *args], env=ENGLISH)
    return result.exit_code, result.output


def test_registers_go_with_a_running_gateway_only(tmp_path: Path) -> None:
    code, output = run("--registers", str(tmp_path))
    assert code == 1
    assert "--registers applies with --gateway" in output


def test_missing_register_files_are_named(tmp_path: Path) -> None:
    credentials = tmp_path / "clients.json"
    credentials.write_text('{"clients": []}')
    (tmp_path / "rnh.csv").write_text("dni,formal_payroll\n")
    code, output = run(
        "--gateway",
        "http://127.0.0.1:9",
        "--credentials",
        str(credentials),
        "--registers",
        str(tmp_path),
    )
    assert code == 1
    assert f"{tmp_path}: no districts.csv" in output


def test_unknown_fault_profile_is_refused() -> None:
    code, output = run("--faults", "stormy")
    assert code == 1
    assert "--faults must be one of none, flaky, slow" in output
