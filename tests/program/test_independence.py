"""The programme is a client like any other: nothing in ``program/`` imports the
gateway's or the adapters' code (it speaks HTTP and reads files)."""

from __future__ import annotations

import ast
from pathlib import Path

import program

FORBIDDEN = ("gateway", "adapters", "audit")


def imported_packages(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_programme_imports_nothing_of_the_gateway_or_the_adapters() -> None:
    root = Path(program.__file__).parent
    offenders = {
        str(path.relative_to(root)): sorted(imported_packages(path) & set(FORBIDDEN))
        for path in sorted(root.rglob("*.py"))
        if imported_packages(path) & set(FORBIDDEN)
    }
    assert offenders == {}
