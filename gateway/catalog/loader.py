"""Loads ``contracts/policy/catalog.yaml`` and refuses a broken one precisely.

The catalog is checked twice: structurally against ``catalog.schema.json`` and for
references (a service's partner, purposes, legal bases, data category, and that each
purpose discloses only fields the service has). Every problem is reported with the file,
the line and the dotted path of the field, so an operator can fix it without guessing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from gateway.catalog.models import Catalog


@dataclass(frozen=True)
class CatalogProblem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field or '<root>'}: {self.message}"


class CatalogError(Exception):
    """The catalog cannot be used; ``problems`` lists each fault with its line."""

    def __init__(self, problems: Sequence[CatalogProblem]) -> None:
        self.problems = list(problems)
        super().__init__("invalid policy catalog:\n" + "\n".join(f"  {p}" for p in problems))


def _node_at(root: yaml.Node, path: Sequence[str | int]) -> yaml.Node:
    """The deepest YAML node along ``path`` (the key node when the path ends at a key)."""
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    node = value
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path)


def _reference_problems(data: dict[str, Any]) -> Iterator[tuple[list[str | int], str]]:
    partners = set(data["partners"])
    purposes = set(data["purposes"])
    bases = set(data["legal_bases"])
    categories = set(data["data_categories"])
    for name, exchange in data.get("exchanges", {}).items():
        at: list[str | int] = ["exchanges", name]
        if exchange["service"] not in data["services"]:
            yield [*at, "service"], f"unknown service {exchange['service']!r}"
        elif exchange["purpose"] not in data["services"][exchange["service"]]["purposes"]:
            yield [*at, "purpose"], "the service does not allow this purpose"
    for sid, service in data["services"].items():
        base: list[str | int] = ["services", sid]
        if service["partner"] not in partners:
            yield [*base, "partner"], f"unknown partner {service['partner']!r}"
        if sid.split(".", 1)[0] != service["partner"]:
            yield base, f"service id must start with its partner {service['partner']!r}"
        if service["data_category"] not in categories:
            yield [*base, "data_category"], f"unknown data category {service['data_category']!r}"
        known_fields = set(service["fields"])
        for purpose, grant in service["purposes"].items():
            where: list[str | int] = [*base, "purposes", purpose]
            if purpose not in purposes:
                yield where, f"unknown purpose {purpose!r}"
            if grant["legal_basis"] not in bases:
                yield [*where, "legal_basis"], f"unknown legal basis {grant['legal_basis']!r}"
            for i, field in enumerate(grant["fields"]):
                if field not in known_fields:
                    yield [*where, "fields", i], f"field {field!r} is not a field of {sid}"


def load_catalog(path: Path, schema_path: Path) -> Catalog:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError([CatalogProblem(name, 0, "", f"cannot read: {exc.strerror}")]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise CatalogError(
            [CatalogProblem(name, line, "", f"not valid YAML: {exc.problem}")]
        ) from None
    if root is None:
        raise CatalogError([CatalogProblem(name, 1, "", "the catalog is empty")])

    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema)
    problems = [
        CatalogProblem(
            name,
            _node_at(root, list(err.absolute_path)).start_mark.line + 1,
            _dotted(list(err.absolute_path)),
            err.message,
        )
        for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    ]
    if not problems:
        problems = [
            CatalogProblem(name, _node_at(root, where).start_mark.line + 1, _dotted(where), msg)
            for where, msg in _reference_problems(data)
        ]
    if problems:
        raise CatalogError(problems)
    return Catalog.model_validate(data)
