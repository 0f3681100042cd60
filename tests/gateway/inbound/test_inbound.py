"""Partner pushes: streamed rows checked one by one, idempotent message ids, receipts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc import jws
from joserfc.jwk import KeySet

from adapters.sandbox.population import Population
from adapters.sandbox.settings import SandboxSettings
from gateway.inbound.feeds import FEEDS
from tests.fixtures.gateway import GetToken, bearer

PUSH = "/v1/inbound/minsa-his/health-records"


def his_rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    pop: Population = SandboxSettings().population
    rows = []
    for i in range(start, start + count):
        h = pop.household(i)
        rows.append(
            {
                "cui": h.child.cui,
                "appointment_id": f"A{i:09d}",
                "service_date": "2021-02-10",
                "item_code": "90681",
                "facility": "00001234",
                "lab_value": "1",
            }
        )
    return rows


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


async def partner(get_token: GetToken) -> dict[str, str]:
    token = await get_token(
        ["partner"], ["affiliation", "coresponsibility-verification", "contact"]
    )
    return bearer(token) | {"X-Purpose": "coresponsibility-verification"}


async def test_rows_are_checked_one_by_one_and_valid_ones_kept(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    headers = await partner(get_token)
    rows = his_rows(2500)
    rows[10]["cui"] = rows[10]["cui"] + "-X"  # wrong check character
    rows[20]["service_date"] = "2021-02-30"
    body = ndjson(rows) + b"not json\n"
    response = await http.post(
        PUSH,
        content=body,
        headers=headers | {"X-Message-Id": "his-0001", "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert (data["rows_accepted"], data["rows_rejected"]) == (2498, 3)
    assert [(r["row"], r["errors"][0]["field"]) for r in data["rejections"]] == [
        (11, "cui"),
        (21, "service_date"),
        (2501, "row"),
    ]
    assert rows[10]["cui"] not in response.text  # errors name fields, never values
    state = app.state.gateway
    kept = [r async for r in state.inbound.accepted_rows(FEEDS["health-records"], "his-0001")]
    assert len(kept) == 2498
    assert kept[0]["cui"] == rows[0]["cui"]
    assert {r["appointment_id"] for r in kept} == {
        r["appointment_id"] for i, r in enumerate(rows) if i not in (10, 20)
    }


async def test_resends_return_the_receipt_and_changed_content_is_refused(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    headers = await partner(get_token) | {"X-Message-Id": "his-0002", "Content-Type": "text/csv"}
    rows = his_rows(30)
    fields = list(rows[0])
    body = ",".join(fields) + "\n" + "".join(",".join(r[f] for f in fields) + "\n" for r in rows)
    first = await http.post(PUSH, content=body.encode(), headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["data"]["rows_accepted"] == 30
    again = await http.post(PUSH, content=body.encode(), headers=headers)
    assert again.status_code == 200
    assert again.json()["data"]["receipt"] == first.json()["data"]["receipt"]
    assert again.json()["data"]["replayed"] is True
    changed = await http.post(
        PUSH, content=body.encode() + b"\n" + body.encode().splitlines()[1], headers=headers
    )
    assert changed.status_code == 409
    assert changed.json()["type"] == "/problems/message-id-reused"
    wrong_type = await http.post(
        PUSH,
        content=body.encode(),
        headers=headers | {"Content-Type": "application/json", "X-Message-Id": "x-1"},
    )
    assert wrong_type.status_code == 415
    assert wrong_type.headers["content-type"] == "application/problem+json"


async def test_receipt_verifies_with_the_published_key(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    headers = await partner(get_token)
    body = ndjson(his_rows(5))
    response = await http.post(
        PUSH,
        content=body,
        headers=headers | {"X-Message-Id": "his-0003", "Content-Type": "application/x-ndjson"},
    )
    receipt = response.json()["data"]["receipt"]
    keys = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    header = jws.extract_compact(receipt.encode()).protected
    assert header["typ"] == "juntos-receipt+jws"
    verified = jws.deserialize_compact(receipt, keys, algorithms=["ES256"])
    claims = json.loads(verified.payload)
    assert claims["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert (claims["message_id"], claims["rows_accepted"], claims["rows_rejected"]) == (
        "his-0003",
        5,
        0,
    )


async def test_pushes_need_the_partner_role_and_are_audited(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    consumer = bearer(await get_token(["consumer"], ["coresponsibility-verification"]))
    refused = await http.post(
        PUSH,
        content=b"",
        headers=consumer
        | {
            "X-Purpose": "coresponsibility-verification",
            "X-Message-Id": "m-1",
            "Content-Type": "text/csv",
        },
    )
    assert refused.status_code == 403
    births = await http.post(
        "/v1/inbound/reniec/births",
        content=b'{"cui": "1234"}\n',
        headers=await partner(get_token)
        | {
            "X-Purpose": "affiliation",
            "X-Message-Id": "b-1",
            "Content-Type": "application/x-ndjson",
        },
    )
    assert births.status_code == 201, births.text
    assert births.json()["data"]["rows_rejected"] == 1


async def test_a_row_that_never_ends_refuses_the_message_and_frees_its_id(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    headers = await partner(get_token)
    headers |= {"X-Message-Id": "his-long", "Content-Type": "application/x-ndjson"}
    rows = his_rows(3)

    async def endless_row() -> AsyncIterator[bytes]:
        yield ndjson(rows[:1])
        for _ in range(64):  # 4 MiB of one row, no line end
            yield b'{"cui": "' + b"1" * (64 * 1024)

    refused = await http.post(PUSH, content=endless_row(), headers=headers)
    assert refused.status_code == 413, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "line 2" in refused.json()["detail"]  # the physical line that never ends
    state = app.state.gateway
    assert [r async for r in state.inbound.accepted_rows(FEEDS["health-records"], "his-long")] == []
    resent = await http.post(PUSH, content=ndjson(rows), headers=headers)
    assert resent.status_code == 201, resent.text
    assert resent.json()["data"]["rows_accepted"] == 3


async def pushed_in(
    http: httpx.AsyncClient, headers: dict[str, str], body: bytes, message_id: str, language: str
) -> dict[str, Any]:
    """The receipt of a new NDJSON message, worded in ``language``."""
    response = await http.post(
        PUSH,
        content=body,
        headers=headers
        | {
            "X-Message-Id": message_id,
            "Content-Type": "application/x-ndjson",
            "Accept-Language": language,
        },
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-language"] == language  # for caches: Vary too
    assert "Accept-Language" in response.headers["vary"]
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_a_row_that_is_not_json_is_told_apart_from_one_that_is_not_an_object(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    """A line that does not parse and a line that parses to something else than an
    object are refused for different reasons, each in the reader's language."""
    headers = await partner(get_token)
    deep = b'{"cui": ' + b"[" * 5_000 + b"]" * 5_000 + b"}\n"  # past json's depth
    body = ndjson(his_rows(1)) + b'{"cui": "1234\n[1, 2]\n' + deep
    reasons = {}
    for language in ("es", "en"):
        data = await pushed_in(http, headers, body, f"his-json-{language}", language)
        assert data["rows_accepted"] == 1
        reasons[language] = [(r["row"], r["errors"][0]["message"]) for r in data["rejections"]]
    assert reasons["es"] == [
        (2, "JSON no válido"),
        (3, "no es un objeto JSON"),
        (4, "JSON no válido"),
    ]
    assert reasons["en"] == [(2, "not valid JSON"), (3, "not a JSON object"), (4, "not valid JSON")]


async def test_each_field_is_refused_for_what_is_wrong_with_it(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    """A date is text written YYYY-MM-DD (not a number, not an ISO week date), a text
    field is text, and a field left out is "required", whatever the check it lacks."""
    headers = await partner(get_token)
    rows = his_rows(7)
    rows[0]["service_date"] = 20210211
    rows[1]["service_date"] = "2021-W06-4"
    rows[2]["service_date"] = "20210211"
    del rows[3]["cui"]
    rows[4]["facility"] = 12345
    rows[5]["item_code"] = ""
    response = await http.post(
        PUSH,
        content=ndjson(rows),
        headers=headers
        | {
            "X-Message-Id": "his-fields",
            "Content-Type": "application/x-ndjson",
            "Accept-Language": "en",
        },
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["rows_accepted"] == 1
    assert [(r["row"], r["errors"]) for r in data["rejections"]] == [
        (1, [{"field": "service_date", "message": "expected a date YYYY-MM-DD"}]),
        (2, [{"field": "service_date", "message": "expected a date YYYY-MM-DD"}]),
        (3, [{"field": "service_date", "message": "expected a date YYYY-MM-DD"}]),
        (4, [{"field": "cui", "message": "required"}]),
        (5, [{"field": "facility", "message": "expected text"}]),
        (6, [{"field": "item_code", "message": "required"}]),
    ]


async def test_a_line_with_a_key_the_feed_does_not_have_is_refused_naming_it(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    """A misspelt, extra or repeated key is not dropped unseen (a CSV column of that name
    refuses its message; JSON keeps a repeated key's last value): the line is refused
    naming the key, or its position when the key may hold a value; the line's other
    errors stay reported."""
    headers = await partner(get_token)
    good, misspelt, extra, repeated = his_rows(4)
    misspelt["lab_valeu"] = misspelt.pop("lab_value")
    extra |= {"12345678": "x", "item_code": "??", "CUI": good["cui"]}
    # Another child's CUI after the line's own: json would keep the second.
    twice = json.dumps(repeated)[:-1] + f', "cui": "{good["cui"]}"}}'
    body = ndjson([good, misspelt, extra]) + twice.encode() + b"\n"
    reasons = {}
    for language in ("es", "en"):
        data = await pushed_in(http, headers, body, f"his-keys-{language}", language)
        assert (data["rows_accepted"], data["rows_rejected"]) == (1, 3)
        reasons[language] = [
            (r["row"], [(e["field"], e["message"]) for e in r["errors"]])
            for r in data["rejections"]
        ]
    assert reasons["en"] == [
        (2, [("lab_valeu", "not a field of this feed")]),
        (
            3,
            [
                ("item_code", "expected an HIS item code (CIE-10, CPT or supply)"),
                ("key7", "not a field of this feed"),
                ("CUI", "not a field of this feed"),
            ],
        ),
        (4, [("cui", "repeated")]),
    ]
    assert reasons["es"][0] == (2, [("lab_valeu", "no es un campo de este canal")])
    assert reasons["es"][2] == (4, [("cui", "repetido")])
    assert "12345678" not in str(reasons)
    stored = [
        row
        async for row in app.state.gateway.inbound.accepted_rows(
            FEEDS["health-records"], "his-keys-es"
        )
    ]
    assert [row["appointment_id"] for row in stored] == [good["appointment_id"]]


async def test_a_header_cell_that_may_be_a_value_is_not_quoted(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    """A column name is quoted in the refusal only when it is a name: a DNI written as a
    column, or a first line that is really a row of data, is named by its position."""
    headers = await partner(get_token) | {"Content-Type": "text/csv"}
    fields = "cui,appointment_id,service_date,item_code,facility,lab_value"
    for n, (header, shown) in enumerate(
        [
            (f"{fields},60542601", {"column7": "a name not shown"}),
            (f"{fields},dni 60 54 26 01", {"column7": "a name not shown"}),
            (f"{fields},ROSA QUISPE MAMANI", {"column7": "a name not shown"}),
            (f"{fields},Codigo_Extra", {"column7": "'Codigo_Extra'"}),
            ("cui,39774981,2021-02-10,90681,00001234,1", {"column2": "a name not shown"}),
        ]
    ):
        refused = await http.post(
            PUSH, content=f"{header}\n".encode(), headers=headers | {"X-Message-Id": f"h-{n}"}
        )
        assert refused.status_code == 422, refused.text
        said = {
            e["field"].removeprefix("body.header."): e["message"] for e in refused.json()["errors"]
        }
        for column, name in shown.items():
            assert said[column].startswith(f"{name} is not a field of this feed"), said
        for value in ("60542601", "39774981", "2021-02-10", "00001234", "QUISPE"):
            assert value not in refused.text


async def test_a_lab_value_may_be_a_json_number_but_nan_is_not_json(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    """An exporter writes a lab value (hemoglobin 11.50) unquoted: kept as written.
    ``NaN`` is not JSON (RFC 8259), though Python's reader takes it."""
    headers = await partner(get_token)
    numeric, whole, nan = his_rows(3)
    numeric["lab_value"], whole["lab_value"] = 11.5, 12
    lines = ndjson([numeric, whole]).replace(b"11.5", b"11.50")  # kept as written
    body = lines + json.dumps(nan).replace('"1"}', "NaN}").encode() + b"\n"
    data = await pushed_in(http, headers, body, "his-numbers", "en")
    assert (data["rows_accepted"], data["rows_rejected"]) == (2, 1)
    assert data["rejections"] == [
        {"row": 3, "errors": [{"field": "row", "message": "not valid JSON"}]}
    ]
    stored = [
        row
        async for row in app.state.gateway.inbound.accepted_rows(
            FEEDS["health-records"], "his-numbers"
        )
    ]
    assert [row["lab_value"] for row in stored] == ["11.50", "12"]


async def test_a_births_field_left_out_is_required_whatever_its_check(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    """sex and ubigeo_reniec left out say "required", as every other field does, not
    the form they would have to take."""
    token = await get_token(["partner"], ["affiliation"])
    pop = SandboxSettings().population
    h = pop.household(0)
    row = {"cui": h.child.cui, "cnv": h.child.cnv, "birth_date": "2020-06-01",
           "mother_dni": h.mother.dni}  # fmt: skip
    response = await http.post(
        "/v1/inbound/reniec/births",
        content=ndjson([row]),
        headers=bearer(token)
        | {
            "X-Purpose": "affiliation",
            "X-Message-Id": "births-missing",
            "Content-Type": "application/x-ndjson",
            "Accept-Language": "en",
        },
    )
    assert response.status_code == 201, response.text
    (rejection,) = response.json()["data"]["rejections"]
    assert rejection["errors"] == [
        {"field": "sex", "message": "required"},
        {"field": "ubigeo_reniec", "message": "required"},
    ]
