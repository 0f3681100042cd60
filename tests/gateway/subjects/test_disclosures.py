"""The disclosure report (ARCO access right): who saw a person's data, when, for what
purpose."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.partners import Grant, Mocks, purpose

pytestmark = pytest.mark.partner_mocks
HIS = purpose("coresponsibility-verification")


async def test_disclosure_report_lists_who_saw_a_person(
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
    get_token: GetToken,
) -> None:
    h = mocks.adult()
    other = mocks.adult(h.index + 1)
    await http.get(
        f"/v1/persons/{h.mother.dni}",
        headers=consumer | purpose("affiliation", **{"X-User-Id": "official-12"}),
    )
    await http.get(f"/v1/persons/{other.mother.dni}", headers=consumer | purpose("contact"))
    await http.get(f"/v1/children/{h.child.cui}/health-services", headers=consumer | HIS)  # denied
    await consented(h)
    await http.get(f"/v1/children/{h.child.cui}/health-services", headers=consumer | HIS)

    auditor = bearer(await get_token(["auditor"], ["audit"]))
    report = await http.get(
        f"/v1/subjects/{h.mother.dni}/disclosures", headers=auditor | purpose("audit")
    )
    assert report.status_code == 200, report.text
    rows = report.json()["data"]
    assert [(r["service"], r["purpose"]) for r in rows] == [
        ("reniec.person", "affiliation"),
        ("gateway.consents", "affiliation"),
    ]
    person = rows[0]
    assert person["user_id"] == "official-12"
    assert person["legal_basis"] == "du-095-2020-art6"
    assert person["client_name"] == "test-consumer"
    assert person["subject_role"] == ["dni"]
    assert "address" in person["fields_disclosed"]
    assert "photo" not in person["fields_disclosed"]
    child = await http.get(
        f"/v1/subjects/{h.child.cui}/disclosures", headers=auditor | purpose("audit")
    )
    child_rows = child.json()["data"]
    assert [(r["service"], r["subject_role"]) for r in child_rows] == [
        ("gateway.consents", ["cui"]),
        ("minsa_his.health-services", ["cui"]),
    ]
    assert child_rows[1]["legal_basis"] == "consent"

    paged = await http.get(
        f"/v1/subjects/{h.mother.dni}/disclosures",
        params={"limit": 1},
        headers=auditor | purpose("audit"),
    )
    assert len(paged.json()["data"]) == 1
    rest = await http.get(
        f"/v1/subjects/{h.mother.dni}/disclosures",
        params={"cursor": paged.json()["next_cursor"]},
        headers=auditor | purpose("audit"),
    )
    assert paged.json()["data"] + rest.json()["data"] == rows
    consumer_try = await http.get(
        f"/v1/subjects/{h.mother.dni}/disclosures", headers=consumer | purpose("affiliation")
    )
    assert consumer_try.status_code == 403
