"""The problem catalog is the problem classes: each class is one type, served at
``/problems/{slug}`` and listed in the committed contract."""

from __future__ import annotations

import httpx
import pytest
import yaml

from gateway.core import problems
from gateway.core.problems import PROBLEM_CLASSES, PROBLEM_TYPES, ProblemError
from gateway.settings import REPO_ROOT


def _classes() -> list[type[ProblemError]]:
    return [
        value
        for value in vars(problems).values()
        if isinstance(value, type) and issubclass(value, ProblemError) and value is not ProblemError
    ]


def test_each_problem_class_is_one_type_with_a_unique_slug() -> None:
    classes = _classes()
    assert len({cls.slug for cls in classes}) == len(classes)
    assert set(PROBLEM_CLASSES.values()) == set(classes)
    for cls in classes:
        assert cls.slug.replace("-", "").isalpha()
        assert cls.slug.islower()
        assert 400 <= cls.status <= 599
        assert cls.title
        assert cls.description


def test_raising_a_class_answers_its_type() -> None:
    error = problems.ConsentAlreadyRevoked("revoked on 2026-01-05")
    assert error.problem == PROBLEM_TYPES["consent-already-revoked"]
    assert (error.problem.status, error.detail) == (409, "revoked on 2026-01-05")


def test_the_contract_lists_every_problem_type() -> None:
    contract = yaml.safe_load((REPO_ROOT / "contracts/gateway/openapi.yaml").read_text())
    (slug,) = contract["paths"]["/problems/{slug}"]["get"]["parameters"]
    assert slug["schema"]["enum"] == sorted(PROBLEM_TYPES)


@pytest.mark.parametrize("slug", sorted(PROBLEM_TYPES))
async def test_every_type_is_described_at_its_uri(http: httpx.AsyncClient, slug: str) -> None:
    described = await http.get(f"/problems/{slug}")
    assert described.status_code == 200
    cls = PROBLEM_CLASSES[slug]
    assert described.json() == {
        "type": f"/problems/{slug}",
        "title": cls.title,
        "status": cls.status,
        "description": cls.description,
    }


async def test_an_unknown_type_is_not_found(http: httpx.AsyncClient) -> None:
    answer = await http.get("/problems/no-such-problem")
    assert answer.status_code == 404
    assert answer.json()["type"] == "/problems/not-found"
