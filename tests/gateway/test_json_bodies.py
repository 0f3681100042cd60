"""Every JSON body is read strictly: a key written twice in one object is refused naming
where it is (Python's ``json`` would keep the last value unseen), ``NaN`` is not JSON,
and nothing of a refused body is acted on."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import httpx
import pytest
import yaml

from gateway.core.jsonbody import RepeatedKeys, loads
from gateway.settings import REPO_ROOT
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.partners import Grant, Mocks, purpose
from tests.fixtures.payments import payees, roll, transfer

JSON = {"Content-Type": "application/json"}


async def lookups(
    http: httpx.AsyncClient, consumer: dict[str, str], content: str | bytes, media_type: str
) -> httpx.Response:
    """A batch of phone-line look-ups sent as ``content`` with ``media_type``."""
    return await http.post(
        "/v1/phone-line-lookups",
        content=content,
        headers=consumer | purpose("contact") | {"Content-Type": media_type},
    )


def test_a_repeated_key_is_located_in_the_document() -> None:
    document = (
        '{"run_id": "r", "transfers": [{"dni": "1", "amount": "2"},'
        ' {"dni": "1", "amount": "2", "dni": "3", "dni": "4"}], "run_id": "s"}'
    )
    with pytest.raises(RepeatedKeys) as refused:
        loads(document)
    # Document order, each key once, the outer object's after its members'.
    assert refused.value.locations == [("body", "run_id"), ("body", "transfers", 1, "dni")]
    assert "3" not in str(refused.value)
    assert "4" not in str(refused.value)


def test_a_key_that_may_be_a_value_is_located_by_its_position() -> None:
    with pytest.raises(RepeatedKeys) as refused:
        loads('{"a": {"60542601": 1, "b": 2, "60542601": 3}, "e": {"sha256": 1, "sha256": 2}}')
    # A name with a few digits is a name; eight digits may be a DNI.
    assert refused.value.locations == [("body", "a", "key3"), ("body", "e", "sha256")]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant: str) -> None:
    with pytest.raises(ValueError, match="is not JSON"):
        loads(f'{{"amount": {constant}}}')


def test_unique_keys_read_as_json_reads_them() -> None:
    document = '{"a": [1, 2.5, {"b": null, "c": "é"}], "d": {"e": true}}'
    assert loads(document) == json.loads(document)
    assert loads(document.encode("utf-16")) == json.loads(document)


def _json_operations() -> list[str]:
    contract = yaml.safe_load((REPO_ROOT / "contracts/gateway/openapi.yaml").read_text())
    return [
        re.sub(r"{[^}]+}", "x", path)
        for path, operations in contract["paths"].items()
        for operation in operations.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


@pytest.mark.parametrize("path", _json_operations())
async def test_every_operation_that_takes_json_refuses_a_repeated_key(
    http: httpx.AsyncClient, get_token: GetToken, path: str
) -> None:
    # Only to a caller the operation would answer: without a token, 401 comes first.
    anonymous = await http.post(path, content='{"a": 1, "a": 2}', headers=JSON)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="juntos-gateway"'
    everyone = bearer(await get_token(["consumer", "partner", "auditor", "admin"]))
    refused = await http.post(path, content='{"a": 1, "a": 2}', headers=everyone | JSON)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [{"field": "body.a", "message": "repeated"}]


@pytest.mark.parametrize("path", _json_operations())
async def test_every_operation_that_takes_json_refuses_a_control_character(
    http: httpx.AsyncClient, get_token: GetToken, path: str
) -> None:
    """No partner's XML can carry a NUL or most C0 controls, nor PostgreSQL's text a NUL:
    refused, naming the field, before anything is done with the body."""
    everyone = bearer(await get_token(["consumer", "partner", "auditor", "admin"]))
    refused = await http.post(path, content='{"note": "a\\u0000b"}', headers=everyone | JSON)
    assert refused.status_code == 422, refused.text
    if path == "/v1/payment-runs":
        # A roll's transfers are checked one by one at intake (tests/gateway/payments):
        # the body's other fields have a pattern, so only the unknown key is refused.
        assert {"field": "body.note", "message": "not a field of this operation"} in (
            refused.json()["errors"]
        )
        return
    assert refused.json()["errors"] == [
        {"field": "body.note", "message": "control characters are not allowed"}
    ]


@pytest.mark.parametrize("path", _json_operations())
async def test_a_key_the_contract_lacks_is_named_by_its_place_when_it_may_be_a_value(
    http: httpx.AsyncClient, get_token: GetToken, path: str
) -> None:
    """A DNI or a person's name written where a key goes is refused without being
    repeated: named by its place in its object (``body.key2``); a plain name is quoted."""
    everyone = bearer(await get_token(["consumer", "partner", "auditor", "admin"]))
    content = '{"lab_valeu": 1, "60542601": 1, "ANA MARIA QUISPE": 2}'
    refused = await http.post(path, content=content, headers=everyone | JSON)
    assert refused.status_code == 422, refused.text
    fields = {error["field"] for error in refused.json()["errors"]}
    assert {"body.lab_valeu", "body.key2", "body.key3"} <= fields, fields
    assert "60542601" not in refused.text
    assert "ANA MARIA" not in refused.text


async def test_a_nested_key_that_may_be_a_value_is_named_by_its_place(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    consumer = bearer(await get_token(["consumer"], ["affiliation"]))
    content = '{"consents": [{"purposes": ["contact"], "ROSA QUISPE MAMANI": 1}]}'
    refused = await http.post(
        "/v1/consent-batches", content=content, headers=consumer | JSON | purpose("affiliation")
    )
    assert refused.status_code == 422, refused.text
    fields = {error["field"] for error in refused.json()["errors"]}
    assert "body.consents[0].key2" in fields, fields
    assert "QUISPE" not in refused.text


@pytest.mark.parametrize(
    ("content", "fields"),
    [
        ('{"dnis": ["60542601", "6054\\u001F2602"]}', ["body.dnis[1]"]),
        ('{"dnis": ["60542601\\b"], "x\\u0007": 1}', ["body.dnis[0]", "body.key2"]),
        ('{"dnis": ["60542601\x7f"]}', ["body.dnis[0]"]),
        ('{"dnis": ["60542601\\u007F"]}', ["body.dnis[0]"]),
    ],
    ids=["unit-separator", "backspace-and-bell-in-a-key", "raw-delete", "escaped-delete"],
)
async def test_a_control_character_is_named_wherever_it_is(
    http: httpx.AsyncClient, consumer: dict[str, str], content: str, fields: list[str]
) -> None:
    refused = await lookups(http, consumer, content.encode(), "application/json")
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [
        {"field": field, "message": "control characters are not allowed"} for field in fields
    ]
    assert "6054" not in refused.text  # the value is never echoed


@pytest.mark.parametrize(
    "content",
    ['{"dnis": ["6054\\n2601"]}', '{"dnis": ["6054\\t\\r2601"]}', '{"dnis": ["6054\\\\b"]}'],
    ids=["line-feed", "tab-and-return", "backslash-then-b"],
)
async def test_tabs_and_line_breaks_are_text(
    http: httpx.AsyncClient, consumer: dict[str, str], content: str
) -> None:
    """Free text keeps its tabs and line breaks: such a value reaches the operation's own
    checks (here, a DNI's form), not the control-character refusal."""
    answer = await lookups(http, consumer, content.encode(), "application/json")
    assert answer.status_code == 422, answer.text
    messages = [error["message"] for error in answer.json()["errors"]]
    assert messages
    assert "control characters are not allowed" not in messages


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"dnis": [], "dnis": []}', "application/json", 422),
        ('{"dnis": ["é"]}'.encode("latin-1"), "application/json; charset=iso-8859-1", 415),
        (b'{"dnis": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "application/json", 400),
    ],
    ids=["not-json", "repeated-key", "latin-1", "too-deep"],
)
async def test_a_body_is_refused_only_to_a_caller_the_operation_would_answer(
    http: httpx.AsyncClient,
    get_token: GetToken,
    content: bytes,
    content_type: str,
    status: int,
) -> None:
    """Authentication and role come before the body, whatever is wrong with it: nobody
    learns how the gateway reads bodies without a token that may call the operation."""
    media = {"Content-Type": content_type}
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        anonymous = await http.post(
            "/v1/phone-line-lookups", content=content, headers=headers | media
        )
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.json()["type"] == "/problems/invalid-token"
    auditor = bearer(await get_token(["auditor"]))
    wrong_role = await http.post("/v1/clients", content=content, headers=auditor | media)
    assert wrong_role.status_code == 403, wrong_role.text
    consumer = bearer(await get_token(["consumer"], ["contact"]))
    answered = await http.post(
        "/v1/phone-line-lookups", content=content, headers=consumer | purpose("contact") | media
    )
    assert answered.status_code == status, answered.text


@pytest.mark.partner_mocks
async def test_a_payment_roll_with_a_repeated_key_is_refused_whole(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> None:
    people = await payees(http, mocks, consumer, consented, 2)
    transfers = [transfer(n, h, a) for n, (h, a) in enumerate(people)]
    body = json.dumps(roll("2021-03-T1", transfers))
    other = mocks.adult(people[-1][0].index + 1).mother.dni
    # The second transfer names its DNI twice: json would pay the second one.
    second = json.dumps(transfers[1])
    doubled = second[:-1] + f', "dni": "{other}"}}'
    pay = consumer | purpose("payment") | JSON
    refused = await http.post(
        "/v1/payment-runs", content=body.replace(second, doubled), headers=pay
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["errors"] == [{"field": "body.transfers[1].dni", "message": "repeated"}]
    assert other not in refused.text
    spanish = await http.post(
        "/v1/payment-runs",
        content=body.replace(second, doubled),
        headers=pay | {"Accept-Language": "es"},
    )
    assert spanish.json()["errors"] == [{"field": "body.transfers[1].dni", "message": "repetido"}]

    # Written once, the same roll is taken, as a new run: nothing of the refused one was.
    taken = await http.post("/v1/payment-runs", content=body, headers=pay)
    assert taken.status_code == 201, taken.text
    assert taken.json()["data"]["items"] == 2


@pytest.mark.partner_mocks
async def test_a_batch_with_its_list_twice_is_refused_and_no_partner_is_asked(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str]
) -> None:
    first, second = mocks.adult(0).mother.dni, mocks.adult(1).mother.dni
    seen = await mocks.requests_seen("osiptel")
    refused = await http.post(
        "/v1/phone-line-lookups",
        content=f'{{"dnis": ["{first}"], "dnis": ["{second}"]}}',
        headers=consumer | purpose("contact") | JSON,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [{"field": "body.dnis", "message": "repeated"}]
    assert first not in refused.text
    assert second not in refused.text
    assert await mocks.requests_seen("osiptel") == seen


@pytest.mark.parametrize(
    ("content", "media_type", "status", "errors"),
    [
        # NaN is answered as any body that is not JSON.
        (
            '{"dnis": [NaN]}',
            "application/json",
            400,
            [{"field": "body", "message": "not valid JSON"}],
        ),
        # A JSON media type by its +json suffix (RFC 6839) is read strictly too.
        (
            '{"dnis": [], "dnis": []}',
            "application/merge-patch+json",
            422,
            [{"field": "body.dnis", "message": "repeated"}],
        ),
        # A body not sent as JSON is not read as JSON.
        (
            '{"dnis": [], "dnis": []}',
            "text/plain",
            415,
            [{"field": "header.content-type", "message": "unsupported"}],
        ),
    ],
    ids=["nan", "json-suffix", "not-json"],
)
async def test_a_body_is_read_as_json_by_its_media_type(
    http: httpx.AsyncClient,
    consumer: dict[str, str],
    content: str,
    media_type: str,
    status: int,
    errors: list[dict[str, str]],
) -> None:
    refused = await lookups(http, consumer, content, media_type)
    assert refused.status_code == status, refused.text
    assert refused.json()["errors"] == errors


def test_a_key_and_its_repeat_are_named_by_the_same_place() -> None:
    document = '{"dnis": [], "12345678": {"a": 1}, "12345678": {"b": 1, "b": 2}}'
    with pytest.raises(RepeatedKeys) as refused:
        loads(document)
    assert refused.value.locations == [("body", "key3"), ("body", "key3", "b")]


def test_numbers_may_be_read_exactly() -> None:
    assert loads('{"amount": 200.0000000000000001}')["amount"] == 200.0
    exact = loads('{"amount": 200.0000000000000001, "big": 1e400}', parse_float=Decimal)
    assert exact == {"amount": Decimal("200.0000000000000001"), "big": Decimal("1e400")}


async def test_a_body_nested_past_the_readers_depth_is_not_json(
    http: httpx.AsyncClient, consumer: dict[str, str]
) -> None:
    deep = '{"dnis": [], "x": ' + "[" * 5_000 + "]" * 5_000 + "}"
    refused = await http.post(
        "/v1/phone-line-lookups", content=deep, headers=consumer | purpose("contact") | JSON
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"] == [{"field": "body", "message": "not valid JSON"}]


async def test_an_optional_body_may_be_left_out(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    admin = bearer(await get_token(["admin"]))
    queued = await http.post("/v1/exchanges/bn-card-deliveries/runs", headers=admin | JSON)
    assert queued.status_code == 202, queued.text


async def test_an_optional_body_that_is_refused_is_not_taken_for_no_body(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    admin = bearer(await get_token(["admin"]))
    path = "/v1/exchanges/bn-card-deliveries/runs"
    for content, status in ((b"{not json", 400), (b'{"a": 1, "a": 2}', 422)):
        refused = await http.post(path, content=content, headers=admin | JSON)
        assert refused.status_code == status, refused.text
    listed = await http.get("/v1/exchanges", headers=admin)
    assert listed.status_code == 200, listed.text
    runs = {e["name"]: e["recent_runs"] for e in listed.json()["exchanges"]}
    assert runs["bn-card-deliveries"] == []  # nothing was queued
    queued = await http.post(path, headers=admin | JSON)  # while no body at all is
    assert queued.status_code == 202, queued.text


async def test_the_token_endpoint_answers_a_json_body_in_oauth_terms(
    http: httpx.AsyncClient,
) -> None:
    refused = await http.post(
        "/v1/token",
        content='{"grant_type": "client_credentials", "grant_type": "x"}',
        headers=JSON,
    )
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        # UTF-16 is not JSON between systems (RFC 8259 §8.1), whatever json could guess.
        ('{"dnis": []}'.encode("utf-16"), "application/json", 400),
        ('{"dnis": []}'.encode("utf-16"), "application/json; charset=utf-8", 400),
        ('{"dnis": ["é"]}'.encode("latin-1"), "application/json; charset=iso-8859-1", 415),
        (b'{"dnis": []}', "application/json; charset=utf-16", 415),
        # UTF-8, said so or not, with or without a byte order mark, is read.
        (b'{"dnis": []}', "application/json; charset=UTF-8", 422),
        (b'\xef\xbb\xbf{"dnis": []}', "application/json; charset=utf8", 422),
    ],
    ids=["utf-16", "utf-16-said-utf-8", "latin-1", "charset-utf-16", "utf-8", "utf-8-bom"],
)
async def test_a_json_body_is_utf_8(
    http: httpx.AsyncClient,
    consumer: dict[str, str],
    content: bytes,
    content_type: str,
    status: int,
) -> None:
    answered = await lookups(http, consumer, content, content_type)
    assert answered.status_code == status, answered.text
    field = {400: "body", 415: "header.content-type", 422: "body.dnis"}[status]
    assert [e["field"] for e in answered.json()["errors"]] == [field]
