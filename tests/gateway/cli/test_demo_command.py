"""``juntos-gateway demo`` refuses what it cannot play before starting anything: the
programme's register files go with ``--gateway`` only, and must be there."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app as cli
from program.published import PUBLISHED, SUMMARY_KEYS
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


def test_unknown_language_is_refused() -> None:
    code, output = run("--lang", "fr")
    assert code == 1
    assert "--lang must be es or en" in output


def test_national_sizes_the_in_process_sandbox_only() -> None:
    code, output = run("--national", "--gateway", "http://127.0.0.1:9")
    assert code == 1
    assert "--national sizes the in-process sandbox" in output


def test_the_report_in_english_on_request(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    summary = tmp_path / "figures" / "summary.json"
    code, output = run(
        "--households", "60", "--lang", "en", "--report", str(report), "--summary", str(summary)
    )
    assert code == 0, output
    figures = json.loads(summary.read_text(encoding="utf-8"))
    assert set(SUMMARY_KEYS) <= set(figures)
    assert figures["published"] == PUBLISHED
    assert figures["funnel"][0]["households"] == figures["newborns"] > 0
    assert "Semáforo: Very high" in output  # the terminal summary, in English too
    page = report.read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    assert "Semáforo by territorial unit" in page
    # The sandbox's invented districts go to the nearest real unit: no invented region.
    assert "Unidad Territorial" in page
    assert "SINTETICO" not in page


def test_a_running_gateways_credentials_are_read_from_its_var_directory(tmp_path: Path) -> None:
    """Without ``--credentials``, ``demo --gateway`` reads the clients the sandbox gateway
    wrote in ``GATEWAY_VAR_DIR`` (not ``var/`` of the current directory)."""
    var = tmp_path / "elsewhere"
    result = CliRunner().invoke(
        cli,
        ["demo", "--gateway", "http://127.0.0.1:9"],
        env={**ENGLISH, "GATEWAY_VAR_DIR": str(var), "GATEWAY_CLI_ENV_FILE": ""},
    )
    assert result.exit_code == 1
    assert f"{var / 'sandbox-clients.json'}: no such file" in result.output
