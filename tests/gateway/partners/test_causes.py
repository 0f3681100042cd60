"""A partner error's cause, written by an adapter, reaches a Spanish reader in Spanish.

The adapters cannot import the catalog's markers (the import contracts keep them apart
from ``gateway.core``), so their causes live in ``gateway/locale/<es|en>/LC_MESSAGES/
partners.po``; ``gateway.partners.errors.problem_for`` looks each one up."""

from __future__ import annotations

import re

from gateway.core.i18n import gettext
from gateway.partners.errors import PartnerNotFound, problem_for
from gateway.settings import REPO_ROOT

# PartnerX(partner, operation, "cause"): the cause as a plain literal (an f-string is a
# partner's code, "HTTP 503", kept as the partner gave it).
_RAISED = re.compile(r'Partner[A-Za-z]+\(\s*[^,()]+,\s*[^,()]+,\s*"([^"]+)"')


def _causes() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((REPO_ROOT / "adapters").rglob("*.py")):
        if "fakes" in path.parts:  # test doubles answer with the partner's own codes
            continue
        for cause in _RAISED.findall(path.read_text()):
            found.setdefault(cause, str(path.relative_to(REPO_ROOT)))
    return found


def test_every_cause_an_adapter_writes_has_a_spanish_translation() -> None:
    causes = _causes()
    assert len(causes) >= 25  # the scan still finds the adapters' causes
    untranslated = {c: where for c, where in causes.items() if gettext(c, "es") == c}
    assert untranslated == {}


def test_a_partners_cause_is_told_in_the_readers_language() -> None:
    problem = problem_for(PartnerNotFound("reniec", "consultar", "0999 not found"))
    assert problem.detail.render("es") == "reniec, operación consultar: 0999 no encontrado"
    assert problem.detail.render("en") == "reniec consultar: 0999 not found"
