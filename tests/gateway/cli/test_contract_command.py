"""``make contract`` regenerates the committed OpenAPI: the command must keep working."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from gateway.cli import app as cli
from gateway.settings import REPO_ROOT


def test_contract_export_writes_the_committed_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.yaml"
    result = CliRunner().invoke(cli, ["contract", "export", str(target)])
    assert result.exit_code == 0, result.output
    committed = REPO_ROOT / "contracts" / "gateway" / "openapi.yaml"
    assert yaml.safe_load(target.read_text()) == yaml.safe_load(committed.read_text())
