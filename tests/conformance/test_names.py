"""Names compared as a registry clerk reads them (issue: text from partners or callers
is not compared byte for byte): case, accents, the tilde of Ñ, apostrophes, hyphens,
dots and repeated blanks are not differences; another letter is."""

from __future__ import annotations

import httpx
import pytest

from gateway.names import clerk_form, same_name
from tests.fixtures.partners import Mocks, purpose

pytestmark = pytest.mark.partner_mocks


@pytest.mark.parametrize(
    ("declared", "recorded"),
    [
        ("Peña", "PEÑA"),
        ("PENA", "PEÑA"),  # a keyboard without Ñ
        ("maria jose", "MARÍA JOSÉ"),
        ("María  José", "MARÍA JOSÉ"),
        ("D'Angelo", "D'ANGELO"),
        ("D’ANGELO", "D'ANGELO"),  # typographic apostrophe
        ("DANGELO", "D'ANGELO"),
        ("Quispe-Mamani", "QUISPE MAMANI"),
        ("de la Cruz", "DE LA CRUZ"),
        ("ＨＵＡＭＡＮ", "HUAMAN"),  # full-width letters
        (" Huamán ", "HUAMAN"),
    ],
)
def test_a_clerk_reads_these_as_the_same_name(declared: str, recorded: str) -> None:
    assert same_name(declared, recorded)


@pytest.mark.parametrize(
    ("declared", "recorded"),
    [
        ("PENA", "PEREA"),
        ("MARIA", "MARIA JOSE"),  # a given name left out is a different name
        ("DE LA CRUZ", "DELACRUZ"),  # words are kept apart
        ("HUAMAN", "GUAMAN"),
        ("", "HUAMAN"),
    ],
)
def test_a_clerk_reads_these_as_different_names(declared: str, recorded: str) -> None:
    assert not same_name(declared, recorded)


def test_the_compared_form() -> None:
    assert clerk_form("  d’Ángelo-Peña ") == "DANGELO PENA"


async def test_identity_verification_reads_names_as_a_clerk(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    """Through the gateway and RENIEC's mock: a declaration written the way a programme
    system holds it (lower case, accents added, a hyphen, doubled blanks) matches."""
    h = mocks.adult()
    given = h.mother.given_names
    declared = {
        "dni": h.mother.dni,
        "given_names": "  ".join(given.split()).lower().replace("a", "á", 1),
        "first_surname": h.mother.first_surname.title(),
        "second_surname": f"{h.mother.second_surname}".replace(" ", "-"),
    }
    answer = await http.post(
        "/v1/identity-verifications", headers=consumer | purpose("affiliation"), json=declared
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["match"] is True
    other = {**declared, "first_surname": h.mother.first_surname + "X"}
    refused = await http.post(
        "/v1/identity-verifications", headers=consumer | purpose("affiliation"), json=other
    )
    assert refused.json()["data"] == {
        "match": False,
        "mismatched_fields": ["first_surname"],
        "unverified_fields": [],
    }
