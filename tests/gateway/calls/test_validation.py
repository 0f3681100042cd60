"""Bad input names its field; refused calls are refused before any partner is called,
and audited as denied."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.gateway import GetToken, audit_log, bearer
from tests.fixtures.partners import Grant, Mocks, purpose

pytestmark = pytest.mark.partner_mocks


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/persons/1234567", {}, "path.dni"),
        ("/v1/persons/12345678-X", {}, "path.dni"),
        ("/v1/persons/{wrong_check}", {}, "path.dni"),
        (
            "/v1/newborns",
            {"born_from": "2020-01-01", "born_to": "2020-02-01", "ubigeo": "15"},
            "query.ubigeo[0]",
        ),
        ("/v1/newborns", {"born_from": "2020-03-01", "born_to": "2020-02-01"}, "query.born_to"),
        ("/v1/newborns", {"born_from": "2019-01-01", "born_to": "2020-06-01"}, "query.born_to"),
        ("/v1/newborns", {"born_from": "2020-01-01"}, "query.born_to"),
        ("/v1/children/{cui}/coresponsibility", {"period": "2021-13"}, "query.period"),
        ("/v1/children/{cui}/coresponsibility", {"period": "2010-01"}, "query.period"),
    ],
)
async def test_invalid_input_names_the_field_and_calls_no_partner(
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    path: str,
    params: dict[str, str],
    field: str,
    consented: Grant,
) -> None:
    h = mocks.adult()
    if "children" in path:
        await consented(h)
    wrong = str((int(h.mother.check_digit) + 1) % 10)
    target = path.format(wrong_check=f"{h.mother.dni}-{wrong}", cui=h.child.cui)
    wanted = "coresponsibility-verification" if "children" in path else "affiliation"
    response = await http.get(target, params=params, headers=consumer | purpose(wanted))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert h.mother.dni not in response.text
    if "coresponsibility" not in path:
        for partner in ("reniec", "osiptel", "bn", "minsa_his"):
            assert await mocks.requests_seen(partner) == 0


async def test_missing_purpose_header_is_named(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    response = await http.get(f"/v1/persons/{mocks.adult().mother.dni}", headers=consumer)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.X-Purpose"


async def test_refusals_are_audited_as_denied(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, get_token: GetToken
) -> None:
    h = mocks.adult()
    contact_only = bearer(await get_token(["consumer"], ["contact"]))
    not_granted = await http.get(
        f"/v1/persons/{h.mother.dni}", headers=contact_only | purpose("payment")
    )
    assert not_granted.status_code == 403
    assert not_granted.json()["type"] == "/problems/purpose-not-granted"

    not_allowed = await http.get(
        f"/v1/children/{h.child.cui}/health-services", headers=contact_only | purpose("contact")
    )
    assert not_allowed.status_code == 403
    assert not_allowed.json()["type"] == "/problems/purpose-not-allowed"

    auditor = bearer(await get_token(["auditor"], ["audit"]))
    wrong_role = await http.get(f"/v1/persons/{h.mother.dni}", headers=auditor | purpose("audit"))
    assert wrong_role.status_code == 403
    assert wrong_role.json()["type"] == "/problems/role-not-granted"

    for partner in ("reniec", "minsa_his"):
        assert await mocks.requests_seen(partner) == 0
    events = await audit_log(app)
    assert [(e["service"], e["decision"], e["reason"], e["status"]) for e in events] == [
        ("reniec.person", "denied", "purpose-not-granted", 403),
        ("minsa_his.health-services", "denied", "purpose-not-allowed", 403),
        ("reniec.person", "denied", "role-not-granted", 403),
    ]
    assert all(e["fields"] == [] for e in events)


async def test_partner_failures_are_audited_with_their_outcome(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    await mocks.faults("osiptel", error_rate=1.0)
    h = mocks.adult()
    await http.get(f"/v1/persons/{h.mother.dni}/phone-lines", headers=consumer | purpose("contact"))
    (event,) = await audit_log(app)
    assert (event["decision"], event["outcome"], event["status"]) == (
        "allowed",
        "partner-unavailable",
        503,
    )
    assert event["fields"] == []
    assert len(event["subjects"]) == 1


async def test_a_look_ups_window_is_told_its_bound_without_a_default_it_does_not_have(
    http: httpx.AsyncClient, consumer: dict[str, str]
) -> None:
    """born_to is required by the look-up (only a run request takes today for it), so
    the refusal of a long window does not speak of a default."""
    response = await http.get(
        "/v1/newborns",
        params={"born_from": "2019-01-01", "born_to": "2020-06-01"},
        headers=consumer | purpose("affiliation"),
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {
            "field": "query.born_to",
            "message": "the range from born_from to born_to may span at most 366 days",
        }
    ]
