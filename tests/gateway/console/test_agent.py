"""The partner agent's pages over HTTP: an upload is the API's push (same checks, same
receipt, same resend rule), made by the person and audited as theirs; an agent sees and
pushes only their own partner's feeds; every form needs the session's CSRF token."""

from __future__ import annotations

import codecs
import hashlib
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.console.service import Actor, create_account
from gateway.core.db import transaction
from gateway.inbound.feeds import FEEDS
from tests.fixtures.gateway import GetToken, audit_log, bearer

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HIS = FEEDS["health-records"]
HEADER = "cui;appointment_id;service_date;item_code;facility;lab_value"
# Sandbox households (seed 2020): children's CUIs, as in ../shared/field-cases.
CUI, OTHER_CUI = "39774981", "59941543"


def his_file(*rows: str, header: str = HEADER) -> bytes:
    """An Excel "CSV UTF-8" export in a Spanish locale: BOM, semicolons, CRLF."""
    return codecs.BOM_UTF8 + "\r\n".join((header, *rows)).encode() + b"\r\n"


GOOD = his_file(
    f"{CUI};A-4;2021-02-10;90681;00001234;1",
    f"{CUI};A-5;2021-02-11;99199.17;00001234;",
)
ONE_BAD = his_file(
    f"{CUI};A-6;2021-02-10;90681;00001234;1",
    f"{OTHER_CUI};A-7;2021-02-30;90681;00001234;1",  # no such date
    f"{CUI};A-8;2021-02-11;99199.17;00001234;",
)


async def add_user(
    app: FastAPI,
    username: str,
    roles: tuple[str, ...] = ("partner-agent",),
    partner: str | None = "minsa_his",
) -> None:
    async with transaction(app.state.gateway.sessions) as session:
        await create_account(
            session,
            username,
            list(roles),
            actor=Actor("test"),
            partners={"minsa_his", "reniec", "bn", "osiptel"},
            display_name=f"Agent {username}",
            partner=partner,
            password=PASSWORD,
        )


async def csrf_of(http: httpx.AsyncClient, path: str) -> str:
    page = await http.get(path)
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def signed_in(
    app: FastAPI, http: httpx.AsyncClient, username: str = "ana", **kw: object
) -> str:
    """Create the account, sign in, and return the session's CSRF token."""
    await add_user(app, username, **kw)  # type: ignore[arg-type]
    token = await csrf_of(http, "/console/login")
    answer = await http.post(
        "/console/login",
        data={"csrf_token": token, "username": username, "password": PASSWORD, "next": "/console"},
    )
    assert answer.status_code == 303, answer.text
    return await csrf_of(http, "/console")


async def upload(
    http: httpx.AsyncClient,
    token: str,
    body: bytes,
    feed: str = "health-records",
    name: str = "his.csv",
    **fields: str,
) -> httpx.Response:
    return await http.post(
        f"/console/agent/feeds/{feed}",
        data={"csrf_token": token, "encoding": "utf-8", "delimiter": "", **fields},
        files={"file": (name, body, "text/csv")},
    )


async def stored(app: FastAPI, feed_name: str, message_id: str) -> list[dict[str, object]]:
    inbound = app.state.gateway.inbound
    return [row async for row in inbound.accepted_rows(FEEDS[feed_name], message_id)]


async def test_an_agent_uploads_a_his_file_and_reads_its_receipt_by_reason(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await signed_in(app, http)
    home = await http.get("/console/agent")
    assert home.status_code == 200
    assert "Atenciones de salud (HIS)" in home.text
    assert "Nacimientos" not in home.text  # another partner's feed
    form = await http.get("/console/agent/feeds/health-records")
    assert 'enctype="multipart/form-data"' in form.text
    assert '<label for="file">' in form.text
    assert "1 GiB" in form.text  # the API's limit for a streamed feed

    answer = await upload(http, token, ONE_BAD)
    message_id = f"health-records-{hashlib.sha256(ONE_BAD).hexdigest()}"
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/console/agent/receipts/health-records/{message_id}"
    receipt = await http.get(answer.headers["location"])
    assert receipt.status_code == 200
    assert "2 filas aceptadas" in receipt.text
    assert "1 fila rechazada" in receipt.text
    assert "<code>service_date</code>" in receipt.text
    assert "no es un día del calendario" in receipt.text
    assert re.search(r"<td>3</td>\s*</tr>", receipt.text)  # line 3 of the file
    assert OTHER_CUI not in receipt.text  # a refusal names the row and field, not the value
    english = await http.get(answer.headers["location"], headers={"Accept-Language": "en"})
    assert "2 rows accepted" in english.text
    assert "not a day of the calendar" in english.text
    assert [r["appointment_id"] for r in await stored(app, "health-records", message_id)] == [
        "A-6",
        "A-8",
    ]
    # Listed among the agent's uploads, on the receipt and on the home page.
    assert f'href="/console/agent/receipts/health-records/{message_id}"' in receipt.text
    assert message_id in (await http.get("/console/agent")).text

    events = await audit_log(app)
    push = [e for e in events if e["service"] == HIS.service]
    assert [(e["client_id"], e["user_id"], e["outcome"]) for e in push] == [
        ("console", "ana", "ok")
    ]
    assert push[0]["request_digest"] == hashlib.sha256(ONE_BAD).hexdigest()
    mine = [e for e in events if e["service"] == "console.agent-upload"]
    assert [(e["client_id"], e["user_id"], e["outcome"]) for e in mine] == [
        ("console", "ana", "ok")
    ]


async def test_the_same_file_again_returns_its_first_receipt_and_stores_nothing_twice(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await signed_in(app, http)
    first = await upload(http, token, GOOD)
    again = await upload(http, token, GOOD)
    assert again.headers["location"] == first.headers["location"] + "?again=1"
    page = await http.get(again.headers["location"])
    assert "ya se había recibido" in page.text
    message_id = first.headers["location"].rsplit("/", 1)[1]
    assert len(await stored(app, "health-records", message_id)) == 2
    outcomes = [e["outcome"] for e in await audit_log(app) if e["service"] == HIS.service]
    assert outcomes == ["ok", "replayed"]
    uploads = [e for e in await audit_log(app) if e["service"] == "console.agent-upload"]
    assert [(e["outcome"], e["decision"], e["status"]) for e in uploads] == [
        ("ok", "allowed", 200),
        ("replayed", "allowed", 200),
    ]


async def test_the_console_and_the_api_give_one_file_the_same_checks(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    token = await signed_in(app, http)
    await upload(http, token, ONE_BAD)
    console = await app.state.gateway.inbound.receipt(
        HIS, f"health-records-{hashlib.sha256(ONE_BAD).hexdigest()}"
    )
    partner = bearer(await get_token(["partner"], ["coresponsibility-verification"])) | {
        "X-Purpose": "coresponsibility-verification",
        "X-Message-Id": "his-api-0001",
        "Content-Type": "text/csv",
    }
    push = "/v1/inbound/minsa-his/health-records"
    api = await http.post(push, content=ONE_BAD, headers=partner | {"Accept-Language": "en"})
    assert api.status_code == 201, api.text
    data = api.json()["data"]
    assert console is not None
    assert (data["rows_accepted"], data["rows_rejected"], data["rejections"]) == (
        console.body["rows_accepted"],
        console.body["rows_rejected"],
        console.body["rejections"],
    )
    assert data["body_sha256"] == console.body["body_sha256"]
    # The reasons are stored in English and answered in the reader's language: Spanish
    # unless the request asks for English, as every problem document is.
    assert data["rejections"] == [
        {"row": 3, "errors": [{"field": "service_date", "message": "not a day of the calendar"}]}
    ]
    again = await http.post(push, content=ONE_BAD, headers=partner)
    assert again.status_code == 200, again.text
    assert again.json()["data"]["rejections"] == [
        {
            "row": 3,
            "errors": [{"field": "service_date", "message": "no es un día del calendario"}],
        }
    ]


async def test_a_file_with_a_wrong_header_is_refused_whole_naming_the_column(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await signed_in(app, http)
    kept = await upload(http, token, GOOD)
    wrong = his_file(
        f"{CUI};A-9;2021-02-10;90681;00001234;1",
        header="cui;cita;service_date;item_code;facility;lab_value",
    )
    refused = await upload(http, token, wrong)
    assert refused.status_code == 422
    assert "El archivo no se recibió" in refused.text
    assert "Falta la columna «appointment_id»." in refused.text
    assert "La columna 2 («cita») no es una columna de este canal." in refused.text
    assert 'role="alert"' in refused.text
    assert CUI not in refused.text
    assert (
        await app.state.gateway.inbound.receipt(
            HIS, f"health-records-{hashlib.sha256(wrong).hexdigest()}"
        )
        is None
    )
    # The earlier upload keeps its receipt and rows.
    listed = await http.get("/console/agent")
    assert kept.headers["location"] in listed.text
    assert len(await stored(app, "health-records", kept.headers["location"].rsplit("/", 1)[1])) == 2
    uploads = [e for e in await audit_log(app) if e["service"] == "console.agent-upload"]
    # Refused for its content, as the push it carried: allowed, and answered 422.
    assert [(e["outcome"], e["decision"], e["status"]) for e in uploads] == [
        ("ok", "allowed", 200),
        ("refused", "allowed", 422),
    ]


async def test_a_file_in_windows_1252_is_read_when_the_agent_says_so(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await signed_in(app, http)
    body = his_file(f"{CUI};A-10;2021-02-10;90681;Posta Año;1")[3:].decode().encode("cp1252")
    as_utf8 = await upload(http, token, body)
    assert as_utf8.status_code == 400
    assert "La línea 2 no es texto UTF-8" in as_utf8.text
    answer = await upload(http, token, body, encoding="windows-1252", delimiter="semicolon")
    assert answer.status_code == 303
    rows = await stored(app, "health-records", answer.headers["location"].rsplit("/", 1)[1])
    assert rows[0]["facility"] == "Posta Año"


async def test_a_file_larger_than_a_plain_form_is_accepted(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await signed_in(app, http)
    rows = [f"{CUI};A-{i:07d};2021-02-10;90681;00001234;1" for i in range(12000)]
    body = his_file(*rows)
    assert len(body) > 500_000  # over a plain form's 16 KiB, and several blocks
    answer = await upload(http, token, body)
    assert answer.status_code == 303, answer.text
    assert "12,000 filas aceptadas" in (await http.get(answer.headers["location"])).text


async def test_an_agent_cannot_push_to_or_read_another_partners_feed(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await signed_in(app, http)
    births = b"cui,cnv,birth_date,sex,ubigeo_reniec,mother_dni\r\n"
    refused = await upload(http, token, births, feed="births")
    assert refused.status_code == 403
    assert "Este canal no es de su socio" in refused.text
    assert (await http.get("/console/agent/feeds/births")).status_code == 403
    message_id = f"births-{hashlib.sha256(births).hexdigest()}"
    assert (await http.get(f"/console/agent/receipts/births/{message_id}")).status_code == 403
    assert await app.state.gateway.inbound.receipt(FEEDS["births"], message_id) is None
    assert not [e for e in await audit_log(app) if e["service"] == FEEDS["births"].service]


async def test_an_agent_of_another_partner_does_not_see_this_partners_receipts(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await signed_in(app, http)
    location = (await upload(http, token, GOOD)).headers["location"]
    await http.post("/console/logout", data={"csrf_token": token})
    await signed_in(app, http, "rosa", partner="reniec")
    assert (await http.get(location)).status_code == 403
    home = await http.get("/console/agent")
    assert "Nacimientos" in home.text
    assert "Atenciones de salud" not in home.text
    assert location not in home.text


async def test_other_roles_are_refused(app: FastAPI, http: httpx.AsyncClient) -> None:
    token = await signed_in(app, http, "olga", roles=("operator", "auditor", "admin"), partner=None)
    assert (await http.get("/console/agent")).status_code == 403
    assert (await upload(http, token, GOOD)).status_code == 403
    message_id = f"health-records-{hashlib.sha256(GOOD).hexdigest()}"
    assert (
        await http.get(f"/console/agent/receipts/health-records/{message_id}")
    ).status_code == 403
    assert await app.state.gateway.inbound.receipt(HIS, message_id) is None


async def test_an_upload_without_the_sessions_csrf_token_is_refused(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    await signed_in(app, http)
    for token in ("", "x" * 43):
        answer = await upload(http, token, GOOD)
        assert answer.status_code == 403
    message_id = f"health-records-{hashlib.sha256(GOOD).hexdigest()}"
    assert await app.state.gateway.inbound.receipt(HIS, message_id) is None


async def test_signed_out_the_agent_pages_lead_to_sign_in(http: httpx.AsyncClient) -> None:
    answer = await http.get("/console/agent/feeds/health-records")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login?next=/console/agent/feeds/")


CASES = Path(__file__).resolve().parents[3].parent / "shared" / "field-cases"


@pytest.mark.partner_mocks
async def test_the_banks_agent_uploads_an_iso_20022_document(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    path = CASES / "09-camt054-v08-batch-full.xml"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    token = await signed_in(app, http, "beto", partner="bn")
    home = await http.get("/console/agent")
    assert "Liquidaciones (camt.054)" in home.text
    assert "Documento XML ISO 20022" in home.text
    assert "25 MiB" in home.text  # the API's limit for a document
    as_csv = await upload(http, token, path.read_bytes(), feed="settlements", name="a.csv")
    assert as_csv.status_code == 422
    assert "Este canal lee archivos terminados en .xml." in as_csv.text
    broken = path.read_bytes().replace(b">200.00<", b">2OO.00<", 1)
    refused = await upload(http, token, broken, feed="settlements", name="camt.xml")
    assert refused.status_code == 422
    assert "El archivo no es un documento camt.054 válido" in refused.text
    assert "camt.054.001.08 no válido en Amt (línea 23)" in refused.text
    answer = await upload(http, token, path.read_bytes(), feed="settlements", name="camt.xml")
    assert answer.status_code == 303, answer.text
    receipt = await http.get(answer.headers["location"])
    assert "3 filas aceptadas" in receipt.text
    assert "No se rechazó ninguna fila." in receipt.text
    events = [e for e in await audit_log(app) if e["service"] == "bn.settlements"]
    assert [(e["client_id"], e["user_id"], e["outcome"]) for e in events][-1] == (
        "console",
        "beto",
        "ok",
    )


async def test_an_api_push_keeps_the_official_named_in_x_user_id(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken
) -> None:
    partner = await get_token(["partner"], ["coresponsibility-verification"])
    answer = await http.post(
        "/v1/inbound/minsa-his/health-records",
        content=GOOD,
        headers=bearer(partner)
        | {
            "X-Purpose": "coresponsibility-verification",
            "X-Message-Id": "his-api-0002",
            "X-User-Id": "maria.his",
            "Content-Type": "text/csv",
        },
    )
    assert answer.status_code == 201, answer.text
    client_id = next(e for e in await audit_log(app) if e["service"] == HIS.service)["client_id"]
    pushed = await app.state.gateway.inbound.pushed_by("minsa_his", client_id, "maria.his")
    assert [(p.message_id, p.rows_accepted) for p in pushed] == [("his-api-0002", 2)]


async def test_refused_rows_are_grouped_by_column_and_reason(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await signed_in(app, http)
    body = his_file(
        f"{CUI};B-1;2021-02-10;90681;00001234;1",
        f"{CUI};B-2;2021-02-30;90681;00001234;1",
        f"{CUI};B-3;2021-13-01;90681;00001234;1",
        f"{CUI};B-4;2021-02-10;90681",
        f"{CUI}-7;B-5;2021-02-10;90681;00001234;1",
    )
    answer = await upload(http, token, body)
    page = (await http.get(answer.headers["location"])).text
    rows = re.findall(r"<tr>\s*<td><code>(.*?)</code></td>\s*<td>(.*?)</td>", page)
    assert rows == [
        ("service_date", "no es un día del calendario"),
        ("(toda la fila)", "se esperaban 6 columnas y hay 4"),
        ("cui", "el carácter de verificación no corresponde al número"),
    ]
    assert re.search(r"no es un día del calendario</td>\s*<td>2</td>\s*<td>3, 4</td>", page)
    assert "1 fila aceptada" in page
    assert "4 filas rechazadas" in page
