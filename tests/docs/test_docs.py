"""The documentation stays short where it is read first, complete where it is a reference.

The README is what a newcomer reads: it must stay short and keep the two commands that
``.ci/run`` and the Makefile rely on. ``docs/configuration.md`` must name every setting the
gateway and the sandbox read, and every relative link of the documentation must resolve.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import AliasChoices, BaseModel

from adapters.sandbox.settings import SandboxSettings
from gateway.settings import REPO_ROOT, Settings

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]


def test_readme_is_short_and_keeps_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert "make run " in text
    assert "make test " in text


def _variables(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        alias = field.validation_alias
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _variables(annotation, f"{prefix}{name.upper()}__")
        elif isinstance(alias, AliasChoices):
            # A field read under another variable's name (the district table is shared).
            yield next(c for c in alias.choices if isinstance(c, str) and c.startswith("GATEWAY_"))
        else:
            yield f"{prefix}{name.upper()}"


@pytest.mark.parametrize(
    ("model", "prefix"), [(Settings, "GATEWAY_"), (SandboxSettings, "GATEWAY_SANDBOX_")]
)
def test_configuration_names_every_setting(model: type[BaseModel], prefix: str) -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = []
    for variable in _variables(model, prefix):
        # Nested settings are tabulated per partner: the leaf's `__NAME` is what appears.
        head, _, leaf = variable.rpartition("__")
        named = variable if not head else f"__{leaf}"
        if named not in text:
            missing.append(variable)
    assert missing == []


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_relative_links_resolve(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, fragment = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(target)
        elif fragment and destination.suffix == ".md" and fragment not in _anchors(destination):
            broken.append(target)
    assert broken == []


def test_every_test_path_the_makefile_and_docs_name_exists() -> None:
    """``make soak`` and the docs name test files; a move of the tests must move them."""
    texts = [REPO_ROOT / "Makefile", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    named = {
        path
        for text in texts
        for path in re.findall(r"tests/[\w/]+(?:\.py)?", text.read_text(encoding="utf-8"))
    }
    assert named, "expected the Makefile to name the soak tests"
    missing = sorted(p for p in named if not (REPO_ROOT / p).exists())
    assert missing == []
