"""``juntos-gateway demo`` refuses what it cannot play before starting anything: the
programme's register files go with ``--gateway`` only, and must be there."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    # November's one round and December's two, each said in the number it has.
    assert re.search(r"November 2020: \d+ caregivers reminded once, \d+ without", output)
    assert re.search(r"December 2020: \d+ caregivers reminded 2 times, \d+ without", output)
    assert re.search(r"Audit chain +│ +intact, [\d,]+ events", output)
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


def test_a_var_directory_setting_survives_another_bad_setting(tmp_path: Path) -> None:
    var = tmp_path / "elsewhere"
    result = CliRunner().invoke(
        cli,
        ["demo", "--gateway", "http://127.0.0.1:9"],
        env={
            **ENGLISH,
            "GATEWAY_VAR_DIR": str(var),
            "GATEWAY_PORT": "http",
            "GATEWAY_CLI_ENV_FILE": "",
        },
    )
    assert result.exit_code == 1
    assert f"{var / 'sandbox-clients.json'}: no such file" in result.output


def test_unreadable_credentials_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "sandbox-clients.json").write_text("not json")
    result = CliRunner().invoke(
        cli,
        ["demo", "--gateway", "http://127.0.0.1:9"],
        env={**ENGLISH, "GATEWAY_VAR_DIR": str(tmp_path), "GATEWAY_CLI_ENV_FILE": ""},
    )
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "sandbox-clients.json: not a readable file of client credentials" in result.output


def test_a_report_that_cannot_be_written_is_refused_before_the_run(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    result = CliRunner().invoke(
        cli,
        ["demo", "--households", "50", "--report", str(not_a_directory / "report.html")],
        env=ENGLISH,
    )
    assert result.exit_code == 1
    assert "report.html: cannot be written" in result.output
    assert "Sandbox gateway at" not in result.output  # refused before anything started


class _Refusing(BaseHTTPRequestHandler):
    """A gateway that knows none of the demo's clients: every token request is refused."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's handler name
        body = b'{"error": "invalid_client", "error_description": "client authentication failed"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _refusing_gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_gateway_refusing_the_credentials_is_one_line(tmp_path: Path) -> None:
    """Credentials of another database's clients: the gateway's refusal, in one line."""
    clients = {"clients": [{"role": r, "client_id": r, "client_secret": "s"} for r in
               ("consumer", "partner", "auditor", "admin")]}  # fmt: skip
    (tmp_path / "sandbox-clients.json").write_text(json.dumps(clients))
    with _refusing_gateway() as url:
        result = CliRunner().invoke(
            cli,
            ["demo", "--gateway", url, "--households", "20", "--report", str(tmp_path / "r.html")],
            env={**ENGLISH, "GATEWAY_VAR_DIR": str(tmp_path), "GATEWAY_CLI_ENV_FILE": ""},
        )
    assert result.exit_code == 1, result.output
    assert f"the gateway at {url} refused the programme's calls" in result.output
    assert "invalid_client" in result.output
    assert "Traceback" not in result.output


def test_the_demo_speaks_the_shells_language_unless_told(tmp_path: Path) -> None:
    """Without --lang the run is in the shell's language; with it, every line of the
    run is in the language asked, the summary file's line included."""
    summary = tmp_path / "summary.json"
    common = ["--households", "40", "--report", str(tmp_path / "r.html"), "--summary", str(summary)]
    code, output = run(*common)  # an English shell
    assert code == 0, output
    assert "Sandbox gateway at http://127.0.0.1:" in output
    assert "partner faults" not in output  # none injected: nothing to say
    assert "Report written to" in output
    assert "Summary written to" in output
    code, output = run(*common, "--lang", "es", "--faults", "slow")
    assert code == 0, output
    assert "(fallas de las entidades: lentas, unos 40 ms más por llamada)" in " ".join(
        output.split()  # the terminal wraps the line
    )
    assert "Informe escrito en" in output
    assert "Resumen escrito en" in output
    assert "Summary written to" not in output
