"""The command line speaks the shell's language, read the gettext way: Spanish when no
locale is set (or ``C``), English with ``LANG=en_US.UTF-8``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import app as cli
from gateway.core.i18n import translations
from gateway.settings import Settings
from tests.fixtures.cli import env_for, runner
from tests.fixtures.database import DatabaseFactory
from tests.fixtures.serving import ENGLISH as ENGLISH_ENV
from tests.fixtures.serving import mock_ports, run_cli
from tests.fixtures.support import free_port

UNSET: dict[str, str | None] = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None}

SPANISH = [{"LANG": None}, {"LANG": "C"}, {"LANG": "es_PE.UTF-8"}]
ENGLISH = [{"LANG": "en_US.UTF-8"}, {"LANG": "es_PE.UTF-8", "LC_MESSAGES": "en_GB.UTF-8"}]


@pytest.mark.parametrize("locale", SPANISH, ids=["unset", "C", "es_PE"])
def test_an_error_is_in_spanish_by_default(locale: dict[str, str | None]) -> None:
    result = runner.invoke(cli, ["demo", "--as-of", "yesterday"], env={**UNSET, **locale})
    assert result.exit_code == 1
    assert "error: --as-of debe ser una fecha AAAA-MM-DD" in result.output


@pytest.mark.parametrize("locale", ENGLISH, ids=["en_US", "LC_MESSAGES"])
def test_an_error_is_in_english_when_the_locale_says_so(locale: dict[str, str | None]) -> None:
    result = runner.invoke(cli, ["demo", "--as-of", "yesterday"], env={**UNSET, **locale})
    assert result.exit_code == 1
    assert "error: --as-of must be a date YYYY-MM-DD" in result.output


def test_a_refusal_from_the_services_is_in_the_shells_language(settings: Settings) -> None:
    """The registry's own refusal (a ``Text``) is rendered in the shell's language."""
    args = ["clients", "create", "--name", "x", "--role", "root"]
    spanish = runner.invoke(cli, args, env={**env_for(settings), "LANG": "es_PE.UTF-8"})
    assert spanish.exit_code == 2
    assert "--role: rol(es) desconocido(s) root; conocidos:" in spanish.output
    english = runner.invoke(cli, args, env=env_for(settings))
    assert "--role: unknown role(s) root; known:" in english.output


def test_serve_names_a_busy_port_in_spanish_by_default(
    databases: DatabaseFactory, tmp_path: Path
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
        env["GATEWAY_PORT"] = str(taken.getsockname()[1])
        result = run_cli(["serve"], {**env, "LANG": ""}, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: el puerto {env['GATEWAY_PORT']} en 127.0.0.1 está en uso (¿otra pasarela en "
        "marcha?): deténgala o asigne a GATEWAY_PORT un puerto libre"
    )
    # A second sandbox finds every port taken: all of them are named at once.
    with socket.socket() as gateway, socket.socket() as reniec:
        for taken in (gateway, reniec):
            taken.bind(("127.0.0.1", 0))
            taken.listen()
        env["GATEWAY_PORT"] = str(gateway.getsockname()[1])
        env["GATEWAY_SANDBOX_RENIEC_PORT"] = str(reniec.getsockname()[1])
        result = run_cli(["serve"], {**env, "LANG": ""}, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: puertos en uso (¿otra pasarela en marcha?): "
        f"GATEWAY_PORT (127.0.0.1:{env['GATEWAY_PORT']}), "
        f"GATEWAY_SANDBOX_RENIEC_PORT (127.0.0.1:{env['GATEWAY_SANDBOX_RENIEC_PORT']}); "
        "deténgala o asigne a esas variables puertos libres"
    )


def test_a_configuration_refusal_is_in_the_shells_language(settings: Settings) -> None:
    env = {**env_for(settings), "GATEWAY_ENV": "production"}
    spanish = runner.invoke(cli, ["clients", "list"], env={**env, "LANG": "C.UTF-8"})
    assert spanish.exit_code == 1
    assert (
        "error: GATEWAY_ENV=production rechaza la clave maestra por omisión del sandbox"
        in spanish.output
    )
    english = runner.invoke(cli, ["clients", "list"], env=env)
    assert "error: GATEWAY_ENV=production refuses the sandbox default master key" in (
        english.output
    )


def test_help_follows_the_shells_language(tmp_path: Path) -> None:
    """Help is read when the command starts, so each language is a process of its own."""
    spanish = run_cli(["db", "--help"], {"LANG": ""}, tmp_path)
    assert "Migraciones del esquema de la base de datos." in spanish.stdout
    english = run_cli(["db", "--help"], {}, tmp_path)
    assert "Database schema migrations." in english.stdout


def test_the_sandbox_commands_follow_the_shells_language(tmp_path: Path) -> None:
    """``population`` (and ``mocks``) print and explain themselves in Spanish by default."""
    spanish = run_cli(["population", "sample", "--count", "1"], {"LANG": ""}, tmp_path)
    assert spanish.stdout.startswith("hogar "), spanish.stdout
    assert "DNI de la madre" in spanish.stdout
    english = run_cli(["population", "sample", "--count", "1"], {}, tmp_path)
    assert "mother DNI" in english.stdout
    assert "La población sintética detrás de los simuladores." in (
        run_cli(["population", "--help"], {"LANG": ""}, tmp_path).stdout
    )
    refused = run_cli(["mocks", "--only", "sunat"], {"LANG": ""}, tmp_path)
    assert refused.returncode == 2
    assert "error: --only: socio(s) desconocido(s) sunat" in refused.stderr


#: Prints every command's path and summary as the command line builds them on start.
_SUMMARIES = """
import json, typer
from gateway.cli import app
def walk(command, path):
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from walk(sub, [*path, name])
    else:
        yield " ".join(path), command.help
        for param in command.params:
            if getattr(param, "help", None) is not None or param.param_type_name == "option":
                yield " ".join([*path, param.opts[0]]), param.help
print(json.dumps(dict(walk(typer.main.get_command(app), []))))
"""


def _summaries(env: dict[str, str], cwd: Path) -> dict[str, str | None]:
    done = subprocess.run(
        [sys.executable, "-c", _SUMMARIES],
        env={**os.environ, **ENGLISH_ENV, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    summaries: dict[str, str | None] = json.loads(done.stdout)
    return summaries


def test_every_commands_summary_is_in_the_shells_language(tmp_path: Path) -> None:
    """Each command's one-line summary (``--help``, and its line in its group's list)
    and each of its options' help come from the ``cli`` catalog: Spanish by default, the
    English id otherwise; none falls back to the developer's docstring or goes without."""
    english = _summaries({}, tmp_path)
    spanish = _summaries({"LANG": ""}, tmp_path)
    assert set(english) == set(spanish)
    assert {"serve", "mocks", "demo", "purge", "population sample", "audit verify"} <= set(english)
    catalog = translations("es")
    for path, summary in english.items():
        assert summary, f"{path}: no help"
        assert spanish[path] != summary, f"{path}: not translated"
        if "--" not in path:  # an option's help may have a list filled in after translation
            assert spanish[path] == catalog.gettext(summary), path
