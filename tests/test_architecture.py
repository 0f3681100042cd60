"""The house's shape, checked: SQL lives in repositories, migrations and the audit library.

Issue-independent rules a reviewer would otherwise check by reading: a module that builds
SQL (SQLAlchemy ``select``/``insert``/``update``/``delete``/``text``) is a repository
(``repository.py`` or a module of a ``repositories`` package), a migration, or part of
the ``audit`` library. The import contracts (package cycles, what ``program`` may import)
are checked by ``lint-imports`` in ``make lint``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQL_BUILDERS = {
    "select",
    "insert",
    "update",
    "delete",
    "text",
    "exists",
    "union",
    "union_all",
    "func",
    "bindparam",
    "and_",
    "or_",
    "literal_column",
}


def _builds_sql(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [a.name for a in node.names if a.name in SQL_BUILDERS]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in SQL_BUILDERS
            and isinstance(node.value, ast.Name)
            and node.value.id in {"sa", "sqlalchemy"}
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def _allowed(path: Path) -> bool:
    rel = path.relative_to(ROOT)
    return (
        rel.name == "repository.py"
        or "repositories" in rel.parts
        or rel.parts[:2] == ("gateway", "migrations")
        or rel.parts[0] == "audit"
    )


def test_sql_is_built_only_in_repositories_migrations_and_the_audit_library() -> None:
    offenders = {}
    for package in ("gateway", "adapters", "audit", "program"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if _allowed(path):
                continue
            found = _builds_sql(ast.parse(path.read_text(encoding="utf-8")))
            if found:
                offenders[str(path.relative_to(ROOT))] = sorted(set(found))
    assert offenders == {}, f"SQL outside repositories: {offenders}"
