"""Partner files as real exports write them, on every streamed feed: byte order marks,
declared charsets, separators, header lines, CRLF, quoting, trailing empty columns.

The field cases are read from ``../shared/field-cases`` beside the repository; a test that
needs one is skipped only when that folder is absent.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.clients.service import create_client
from gateway.core.db import transaction
from gateway.inbound.feeds import FEEDS
from gateway.inbound.models import InboundMessage
from gateway.settings import Settings
from gateway.state import AppState
from tests.fixtures.gateway import ENGLISH, GetToken, bearer

pytestmark = pytest.mark.partner_mocks

FIELD_CASES = Path(__file__).resolve().parents[2].parent / "shared" / "field-cases"
CUI, DNI = "39774981", "60542601"  # a sandbox household (seed 2020)
ENDPOINTS = {
    "births": ("/v1/inbound/reniec/births", "affiliation"),
    "health-records": ("/v1/inbound/minsa-his/health-records", "coresponsibility-verification"),
    "line-changes": ("/v1/inbound/osiptel/line-changes", "contact"),
}
# What the gateway adds to an accepted row: births' RENIEC ubigeo converted to INEI.
DERIVED = {"births": {"ubigeo_inei": "900101"}}
VALID = {
    "births": {
        "cui": CUI,
        "cnv": "1000123456",
        "birth_date": "2020-12-01",
        "sex": "F",
        "ubigeo_reniec": "900501",
        "mother_dni": DNI,
    },
    "health-records": {
        "cui": CUI,
        "appointment_id": "A-1",
        "service_date": "2021-02-10",
        "item_code": "90681",
        "facility": "00001234",
        "lab_value": "1",
    },
    "line-changes": {
        "dni": DNI,
        "number": "987654321",
        "operator": "Claro",
        "change": "activated",
        "effective_date": "2021-01-05",
    },
}
SEPARATORS = {"comma": ",", "semicolon": ";", "tab": "\t"}
QUOTED = (
    "cui,appointment_id,service_date,item_code,facility,lab_value,,\r\n"  # line 1
    f'"{CUI}","A-1","2021-02-10","90681","Posta ""Ñaña"", Lima","1",,\r\n'  # 2
    "\r\n"  # 3: blank
    ",,,,,,,\r\n"  # 4: an empty row as spreadsheets save it
    f" {CUI} , A-2 ,2021-02-10, 90681 ,00001234, \r\n"  # 5: blanks around values
    f'{CUI},"A-3\r\nsegunda linea",2021-02-10,90681,00001234,1\r\n'  # 6-7: one record
    f"{CUI},A-4,2021-02-30,90681,00001234,1\r\n"  # 8: a bad date
    f"{CUI},A-5,2021-02-10,90681,00001234,1,extra\r\n"  # 9: a value past the header
    f"{CUI},A-6,2021-02-10\r\n"  # 10: too few columns
    f"{CUI},A-7,2021-02-10,90681,00001234,1"  # 11: no final line end
)


def field_case(name: str) -> bytes:
    path = FIELD_CASES / name
    if not path.exists():
        pytest.skip(f"{FIELD_CASES} is absent")
    return path.read_bytes()


def csv_text(feed: str, rows: list[dict[str, str]], sep: str = ",", end: str = "\r\n") -> str:
    fields = FEEDS[feed].fields
    lines = [sep.join(fields)] + [sep.join(r[f] for f in fields) for r in rows]
    return "".join(line + end for line in lines)


async def push(
    http: httpx.AsyncClient,
    token: str,
    feed: str,
    message_id: str,
    body: bytes,
    content_type: str,
    **params: str,
) -> httpx.Response:
    path, purpose = ENDPOINTS[feed]
    return await http.post(
        path,
        params=params,
        content=body,
        headers=bearer(token)
        | {"X-Purpose": purpose, "X-Message-Id": message_id, "Content-Type": content_type},
    )


@pytest.fixture
async def token(get_token: GetToken) -> str:
    return await get_token(["partner"], ["affiliation", "coresponsibility-verification", "contact"])


async def kept(app: FastAPI, feed: str, message_id: str) -> list[dict[str, Any]]:
    state: AppState = app.state.gateway
    return [r async for r in state.inbound.accepted_rows(FEEDS[feed], message_id)]


async def message(app: FastAPI, feed: str, message_id: str) -> InboundMessage | None:
    state: AppState = app.state.gateway
    async with transaction(state.sessions) as session:
        return await session.get(InboundMessage, (FEEDS[feed].partner, message_id))


def accepted(response: httpx.Response) -> tuple[int, int]:
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return data["rows_accepted"], data["rows_rejected"]


# Field case 6: Excel's "CSV UTF-8" and an NDJSON writer both start with a BOM.


async def test_case_6_an_excel_utf8_csv_with_a_bom_is_accepted_whole(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    body = field_case("06-his-excel-utf8-bom.csv")
    response = await push(http, token, "health-records", "his-06", body, "text/csv")
    assert accepted(response) == (2, 0)
    rows = await kept(app, "health-records", "his-06")
    assert [(r["cui"], r["appointment_id"], r["lab_value"]) for r in rows] == [
        (CUI, "A-2", "1"),
        (CUI, "A-3", ""),
    ]


async def test_case_6_an_ndjson_body_with_a_bom_keeps_its_first_row(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    body = field_case("06-his-ndjson-bom.ndjson")
    response = await push(http, token, "health-records", "his-06n", body, "application/x-ndjson")
    assert accepted(response) == (1, 0)
    assert [r["appointment_id"] for r in await kept(app, "health-records", "his-06n")] == ["A-20"]


# Field case 7: Excel in a Spanish locale separates with semicolons.


async def test_case_7_a_semicolon_export_is_detected_and_accepted(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    body = field_case("07-his-excel-es-semicolon.csv")
    response = await push(http, token, "health-records", "his-07", body, "text/csv")
    assert accepted(response) == (2, 0)
    rows = await kept(app, "health-records", "his-07")
    assert [(r["appointment_id"], r["item_code"]) for r in rows] == [
        ("A-4", "90681"),
        ("A-5", "99199.17"),
    ]


async def test_a_semicolon_export_with_a_short_row_among_the_first_is_read_by_semicolons(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    # One short row leaves csv.Sniffer undecided; the header line still says ";".
    body = field_case("07-his-excel-es-semicolon.csv") + b"39774981;A-6;2021-02-12\r\n"
    response = await push(http, token, "health-records", "his-07s", body, "text/csv")
    assert accepted(response) == (2, 1)
    assert response.json()["data"]["rejections"][0]["row"] == 4


async def test_a_spanish_export_with_decimal_commas_is_read_by_semicolons(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    rows = [
        VALID["health-records"] | {"appointment_id": f"A-{i}", "lab_value": "11,5"}
        for i in range(30)
    ]
    body = csv_text("health-records", rows, ";")
    response = await push(http, token, "health-records", "his-dc", body.encode(), "text/csv")
    assert accepted(response) == (30, 0)
    assert {r["lab_value"] for r in await kept(app, "health-records", "his-dc")} == {"11,5"}
    path, purpose = ENDPOINTS["health-records"]

    async def blocks() -> AsyncIterator[bytes]:
        data = body.encode()
        for at in range(0, len(data), 37):
            yield data[at : at + 37]

    streamed = await http.post(
        path,
        content=blocks(),
        headers=bearer(token)
        | {"X-Purpose": purpose, "X-Message-Id": "his-dc2", "Content-Type": "text/csv"},
    )
    assert accepted(streamed) == (30, 0)


async def test_case_7_a_wrong_declared_separator_refuses_the_message_and_frees_its_id(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    body = field_case("07-his-excel-es-semicolon.csv")
    refused = await push(
        http, token, "health-records", "his-07b", body, "text/csv", delimiter="comma"
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert [e["field"] for e in problem["errors"]] == ["body.header"]
    assert "receipt" not in refused.text
    assert "data" not in problem
    assert await message(app, "health-records", "his-07b") is None
    assert await kept(app, "health-records", "his-07b") == []
    resent = await push(
        http, token, "health-records", "his-07b", body, "text/csv", delimiter="semicolon"
    )
    assert accepted(resent) == (2, 0)


async def test_a_header_with_other_names_is_refused_naming_them_and_the_fix_is_accepted(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    good = csv_text("health-records", [VALID["health-records"]])
    bad = good.replace("appointment_id", "Id_Cita", 1).replace("lab_value", "Valor_Lab", 1)
    refused = await push(
        http, token, "health-records", "his-h1", bad.encode(), "text/csv; charset=utf-8"
    )
    assert refused.status_code == 422, refused.text
    errors = {e["field"]: e["message"] for e in refused.json()["errors"]}
    assert errors["body.header.appointment_id"] == "missing"
    assert errors["body.header.lab_value"] == "missing"
    assert "'Id_Cita'" in errors["body.header.column2"]
    assert "'Valor_Lab'" in errors["body.header.column6"]
    assert await message(app, "health-records", "his-h1") is None
    # Names match case-insensitively and trimmed, in any order; the same id is still free.
    header, *rest = good.split("\r\n", 1)
    shuffled = " CUI ,Appointment_ID,Service_Date,ITEM_CODE,facility , Lab_Value"
    resent = await push(
        http, token, "health-records", "his-h1", (shuffled + "\r\n" + rest[0]).encode(), "text/csv"
    )
    assert accepted(resent) == (1, 0)
    again = await push(
        http, token, "health-records", "his-h1", (shuffled + "\r\n" + rest[0]).encode(), "text/csv"
    )
    assert again.status_code == 200
    assert again.json()["data"]["replayed"] is True


async def test_a_body_without_its_header_is_refused_without_echoing_the_row(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    body = csv_text("line-changes", [VALID["line-changes"]]).split("\r\n", 1)[1]
    refused = await push(http, token, "line-changes", "osi-h1", body.encode(), "text/csv")
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["body.header"]
    assert DNI not in refused.text  # the data line taken for a header is not quoted back
    repeated = "dni,number,operator,change,effective_date,DNI\r\n"
    refused = await push(http, token, "line-changes", "osi-h1", repeated.encode(), "text/csv")
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "body.header.dni", "message": "repeated"}]
    absent = await push(
        http, token, "line-changes", "osi-h1", body.encode(), "text/csv; header=absent"
    )
    assert absent.status_code == 415
    assert await message(app, "line-changes", "osi-h1") is None


# Every streamed feed: byte order mark, separators, CRLF, NDJSON with a BOM.


@pytest.mark.parametrize("feed", sorted(ENDPOINTS))
async def test_every_feed_reads_lines_ended_by_a_carriage_return_alone(
    app: FastAPI, http: httpx.AsyncClient, token: str, feed: str
) -> None:
    """Excel for Mac's "CSV (Macintosh)" ends each line with a carriage return alone."""
    row = VALID[feed]
    stored = {**row, **DERIVED.get(feed, {})}
    body = csv_text(feed, [row, row], ";", end="\r").encode("cp1252")
    response = await push(http, token, feed, f"{feed}-mac", body, "text/csv; charset=windows-1252")
    assert accepted(response) == (2, 0)
    assert await kept(app, feed, f"{feed}-mac") == [stored, stored]
    # A bad row is still named by the line the person sees.
    broken = csv_text(feed, [row, {**row, FEEDS[feed].fields[0]: "x"}], ";", end="\r")
    response = await push(http, token, feed, f"{feed}-mac-2", broken.encode(), "text/csv")
    assert accepted(response) == (1, 1)
    assert [r["row"] for r in response.json()["data"]["rejections"]] == [3]


@pytest.mark.parametrize("feed", sorted(ENDPOINTS))
async def test_every_feed_reads_bom_comma_semicolon_tab_and_ndjson(
    app: FastAPI, http: httpx.AsyncClient, token: str, feed: str
) -> None:
    row = VALID[feed]
    stored = {**row, **DERIVED.get(feed, {})}
    for name, sep in SEPARATORS.items():
        body = codecs.BOM_UTF8 + csv_text(feed, [row, row], sep).encode()
        response = await push(http, token, feed, f"{feed}-{name}", body, "text/csv")
        assert accepted(response) == (2, 0), name
        assert await kept(app, feed, f"{feed}-{name}") == [stored, stored]
        declared = await push(
            http, token, feed, f"{feed}-{name}-d", body, "text/csv", delimiter=name
        )
        assert accepted(declared) == (2, 0), name
    ndjson = codecs.BOM_UTF8 + (json.dumps(row) + "\r\n").encode() * 3
    response = await push(http, token, feed, f"{feed}-nd", ndjson, "application/x-ndjson")
    assert accepted(response) == (3, 0)
    assert await kept(app, feed, f"{feed}-nd") == [stored, stored, stored]


# Declared charsets.


@pytest.mark.parametrize(
    ("charset", "codec"),
    [
        ("ISO-8859-1", "iso8859-1"),
        ("latin1", "iso8859-1"),
        ("windows-1252", "cp1252"),
        ("CP1252", "cp1252"),
        ("UTF-8", "utf-8"),
    ],
)
async def test_a_declared_charset_is_honoured(
    app: FastAPI, http: httpx.AsyncClient, token: str, charset: str, codec: str
) -> None:
    changes = [
        VALID["line-changes"] | {"operator": "Telefónica del Perú"},
        VALID["line-changes"] | {"operator": "PEÑA Comunicaciones"},
    ]
    body = csv_text("line-changes", changes).encode(codec)
    content_type = f"text/csv; charset={charset}"
    response = await push(http, token, "line-changes", f"osi-{charset}", body, content_type)
    assert accepted(response) == (2, 0)
    rows = await kept(app, "line-changes", f"osi-{charset}")
    assert [r["operator"] for r in rows] == ["Telefónica del Perú", "PEÑA Comunicaciones"]
    his = VALID["health-records"] | {"facility": "P.S. Ñaña é"}
    ndjson = (json.dumps(his, ensure_ascii=False) + "\n").encode(codec)
    ndjson_type = f"application/x-ndjson; charset={charset}"
    response = await push(http, token, "health-records", f"his-{charset}", ndjson, ndjson_type)
    assert accepted(response) == (1, 0)
    assert (await kept(app, "health-records", f"his-{charset}"))[0]["facility"] == "P.S. Ñaña é"


async def test_windows_1252_is_not_read_as_iso_8859_1(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    row = VALID["line-changes"] | {"operator": "Entel – Perú"}  # an en dash: 0x96 in cp1252
    body = csv_text("line-changes", [row]).encode("cp1252")
    response = await push(http, token, "line-changes", "osi-w", body, "text/csv;charset=cp1252")
    assert accepted(response) == (1, 0)
    assert (await kept(app, "line-changes", "osi-w"))[0]["operator"] == "Entel – Perú"


@pytest.mark.parametrize("charset", ["shift_jis", "utf-16", "EBCDIC-XYZ"])
async def test_an_unaccepted_charset_is_refused_naming_it(
    app: FastAPI, http: httpx.AsyncClient, token: str, charset: str
) -> None:
    body = csv_text("births", [VALID["births"]]).encode()
    response = await push(http, token, "births", "b-cs", body, f"text/csv; charset={charset}")
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert f"'{charset}'" in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "header.content-type"
    assert await message(app, "births", "b-cs") is None


async def test_utf16_bodies_and_contradicting_boms_are_refused_and_leave_the_id_free(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    text = csv_text("births", [VALID["births"]])
    utf16 = await push(http, token, "births", "b-16", text.encode("utf-16"), "text/csv")
    assert utf16.status_code == 415, utf16.text
    assert "UTF-16" in utf16.json()["detail"]
    assert await message(app, "births", "b-16") is None
    contradicting = codecs.BOM_UTF8 + text.encode()
    refused = await push(
        http, token, "births", "b-16", contradicting, "text/csv; charset=iso-8859-1"
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["row"] == 1
    resent = await push(http, token, "births", "b-16", text.encode(), "text/csv")
    assert accepted(resent) == (1, 0)


async def test_undecodable_bytes_refuse_the_message_naming_the_line(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    row = VALID["line-changes"] | {"operator": "Telefónica"}
    body = csv_text("line-changes", [VALID["line-changes"], row]).encode("cp1252")
    refused = await push(http, token, "line-changes", "osi-u8", body, "text/csv")
    assert refused.status_code == 400, refused.text
    problem = refused.json()
    assert problem["errors"] == [
        {"field": "body", "row": 3, "message": problem["errors"][0]["message"]}
    ]
    assert "UTF-8" in problem["detail"]
    assert "line 3" in problem["detail"]
    assert await message(app, "line-changes", "osi-u8") is None
    assert await kept(app, "line-changes", "osi-u8") == []
    resent = await push(
        http, token, "line-changes", "osi-u8", body, "text/csv; charset=windows-1252"
    )
    assert accepted(resent) == (2, 0)


# Values as exports carry them; errors by physical line.


async def test_quoted_values_blanks_trailing_columns_and_physical_line_numbers(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    body = QUOTED
    response = await push(http, token, "health-records", "his-q", body.encode(), "text/csv")
    assert accepted(response) == (4, 3)
    rejections = response.json()["data"]["rejections"]
    assert [(r["row"], r["errors"][0]["field"]) for r in rejections] == [
        (8, "service_date"),
        (9, "row"),
        (10, "row"),
    ]
    rows = await kept(app, "health-records", "his-q")
    assert [(r["appointment_id"], r["facility"], r["lab_value"]) for r in rows] == [
        ("A-1", 'Posta "Ñaña", Lima', "1"),
        ("A-2", "00001234", ""),
        ("A-3\r\nsegunda linea", "00001234", "1"),
        ("A-7", "00001234", "1"),
    ]


@pytest.mark.parametrize("size", [1, 5, 64])
async def test_block_boundaries_do_not_change_what_is_read(
    app: FastAPI, http: httpx.AsyncClient, token: str, size: int
) -> None:
    """A BOM, a quoted value spanning lines and the lines the separator is sniffed on
    may arrive split over any number of blocks of the stream."""
    whole = codecs.BOM_UTF8 + QUOTED.replace(",", ";").encode()
    expected = await push(http, token, "health-records", f"his-w{size}", whole, "text/csv")
    assert accepted(expected) == (4, 3)
    path, purpose = ENDPOINTS["health-records"]

    async def blocks() -> AsyncIterator[bytes]:
        for at in range(0, len(whole), size):
            yield whole[at : at + size]

    streamed = await http.post(
        path,
        content=blocks(),
        headers=bearer(token)
        | {"X-Purpose": purpose, "X-Message-Id": f"his-s{size}", "Content-Type": "text/csv"},
    )
    assert accepted(streamed) == (4, 3)
    assert streamed.json()["data"]["rejections"] == expected.json()["data"]["rejections"]
    assert await kept(app, "health-records", f"his-s{size}") == await kept(
        app, "health-records", f"his-w{size}"
    )


async def test_ndjson_rows_are_numbered_by_physical_line(
    http: httpx.AsyncClient, token: str
) -> None:
    row = json.dumps(VALID["births"])
    body = f"{row}\r\n\r\n[1]\r\n{row}\r\n".encode()
    response = await push(http, token, "births", "b-nd", body, "application/x-ndjson")
    assert accepted(response) == (2, 1)
    assert response.json()["data"]["rejections"][0]["row"] == 3


# Limits per row and per message.


async def test_a_row_past_the_limit_refuses_the_message_and_frees_its_id(
    app: FastAPI, http: httpx.AsyncClient, token: str
) -> None:
    row = json.dumps(VALID["births"]) + "\n"
    long_row = json.dumps(VALID["births"] | {"note": "x" * 70_000}) + "\n"
    body = (row * 3 + long_row + row).encode()
    refused = await push(http, token, "births", "b-long", body, "application/x-ndjson")
    assert refused.status_code == 413, refused.text
    assert "line 4" in refused.json()["detail"]
    unclosed = csv_text("births", [VALID["births"]]) + '"' + "x" * 70_000 + "\r\n"
    refused = await push(http, token, "births", "b-long", unclosed.encode(), "text/csv")
    assert refused.status_code == 413, refused.text
    assert "line 3" in refused.json()["detail"]
    assert await message(app, "births", "b-long") is None
    resent = await push(http, token, "births", "b-long", (row * 4).encode(), "application/x-ndjson")
    assert accepted(resent) == (4, 0)


async def test_a_streamed_message_past_the_limit_is_refused_and_nothing_is_kept(
    settings: Settings,
) -> None:
    limited = settings.model_copy(update={"inbound_max_message_bytes": 4096})
    application = create_app(limited)
    async with application.router.lifespan_context(application):
        state: AppState = application.state.gateway
        async with transaction(state.sessions) as session:
            issued = await create_client(
                session, state.catalog, "test-limit", ["partner"], ["affiliation"], actor=None
            )
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway.test", headers=ENGLISH
        ) as http:
            answer = await http.post(
                "/v1/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": issued.client.id,
                    "client_secret": issued.secret,
                },
            )
            token = answer.json()["access_token"]
            line = (json.dumps(VALID["births"]) + "\n").encode()

            async def stream(lines: int) -> AsyncIterator[bytes]:
                for _ in range(lines):
                    yield line

            # An empty body is refused whole, like a CSV without its header: no receipt,
            # and the message id stays free for the real message.
            empty = await push(http, token, "births", "b-big", b"", "application/x-ndjson")
            assert empty.status_code == 422, empty.text
            assert empty.json()["errors"] == [
                {"field": "body", "message": "no row: the body is empty"}
            ]
            resent = await push(http, token, "births", "b-big", line, "application/x-ndjson")
            assert accepted(resent) == (1, 0)
            path, purpose = ENDPOINTS["births"]
            headers = bearer(token) | {
                "X-Purpose": purpose,
                "X-Message-Id": "b-big2",
                "Content-Type": "application/x-ndjson",
            }
            streamed = await http.post(path, content=stream(100), headers=headers)
            assert streamed.status_code == 413, streamed.text
            async with transaction(state.sessions) as session:
                assert await session.get(InboundMessage, ("reniec", "b-big2")) is None
            declared = await http.post(path, content=line * 100, headers=headers)
            assert declared.status_code == 413  # refused on its Content-Length
            fits = await http.post(path, content=stream(10), headers=headers)
            assert accepted(fits) == (10, 0)
