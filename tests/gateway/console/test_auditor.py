"""The auditor's pages over HTTP, on a gateway that served real look-ups: the search by a
person's DNI with paging and export, the disclosure report on screen and as PDF, the
verification with its progress, each look audited naming the person who looked and
never the searched person's number."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfReader

from gateway.auditing.search import EXPORT_COLUMNS
from gateway.console.service import Actor, create_account
from gateway.core.db import transaction
from gateway.core.pseudonyms import Pseudonymizer
from gateway.settings import Settings
from tests.fixtures.audit import append_events
from tests.fixtures.gateway import audit_log
from tests.fixtures.partners import Grant, Mocks, purpose

pytestmark = pytest.mark.partner_mocks

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HIS = purpose("coresponsibility-verification")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Verification by stretches of 5 events, so that its progress page shows.
    return settings.model_copy(update={"audit_verify_stretch": 5})


async def _account(app: FastAPI, username: str, roles: tuple[str, ...]) -> None:
    async with transaction(app.state.gateway.sessions) as session:
        await create_account(
            session,
            username,
            list(roles),
            actor=Actor("test"),
            partners=set(),
            display_name=username.title(),
            password=PASSWORD,
        )


def _csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def _sign_in(app: FastAPI, http: httpx.AsyncClient, username: str, *roles: str) -> None:
    await _account(app, username, roles or ("auditor",))
    token = _csrf(await http.get("/console/login"))
    answer = await http.post(
        "/console/login",
        data={"csrf_token": token, "username": username, "password": PASSWORD, "next": "/"},
    )
    assert answer.status_code == 303, answer.text


async def _console_events(app: FastAPI, action: str) -> list[dict[str, Any]]:
    return [e for e in await audit_log(app) if e["service"] == f"console.{action}"]


@pytest.fixture
async def looked_up(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> Any:
    """A household whose mother was looked up (allowed, then refused for a purpose
    the client does not hold, and her account refused for want of consent) and whose
    child's health records were read."""
    h = mocks.adult()
    await http.get(
        f"/v1/persons/{h.mother.dni}",
        headers=consumer | purpose("affiliation", **{"X-User-Id": "official-12"}),
    )
    await http.get(f"/v1/persons/{h.mother.dni}", headers=consumer | purpose("audit"))
    no_consent = await http.get(
        f"/v1/accounts/{h.mother.dni}", headers=consumer | purpose("payment")
    )
    assert no_consent.status_code == 403, no_consent.text
    await consented(h)
    await http.get(f"/v1/children/{h.child.cui}/health-services", headers=consumer | HIS)
    return h


async def test_search_by_dni_names_what_happened_in_spanish_and_is_audited(
    app: FastAPI, http: httpx.AsyncClient, looked_up: Any
) -> None:
    dni = looked_up.mother.dni
    await _sign_in(app, http, "ana")
    page = await http.get("/console/auditor", params={"subject": dni, "search": "1"})
    assert page.status_code == 200, page.text
    text = page.text
    assert "Eventos encontrados" in text
    assert "Identidad por DNI" in text
    assert "Afiliación a la intervención del DU 095-2020" in text
    assert "usuario: official-12" in text
    assert '<span class="tag decision-denied">denegado</span>' in text
    assert '<span class="hint">sin consentimiento</span>' in text
    assert '<span class="tag decision-allowed">permitido</span>' in text
    assert "La persona figura por DNI." in text
    assert f'href="/console/auditor/person?document={dni}"' in text
    assert "/console/auditor/events/export?subject=" in text

    searches = await _console_events(app, "audit-search")
    assert [e["user_id"] for e in searches] == ["ana"]
    refs = app.state.gateway.pseudonyms
    assert isinstance(refs, Pseudonymizer)
    assert refs.of("dni", dni) in searches[0]["subjects"]
    assert dni not in json.dumps(searches[0], default=str)  # the number itself is never recorded

    # The search finds the person's own audited looks too, under "Console".
    again = await http.get("/console/auditor", params={"subject": dni, "search": "1"})
    assert "Consola: consulta del registro de auditoría" in again.text


async def test_filters_are_checked_and_named_in_the_form(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    await _sign_in(app, http, "ana")
    page = await http.get(
        "/console/auditor",
        params={"subject": "1234", "since": "2021-02-10", "until": "2021-02-01", "search": "1"},
    )
    assert page.status_code == 422
    assert "Escriba los 8 dígitos del DNI o CUI" in page.text
    assert "El último día no puede ser anterior al primero." in page.text
    assert 'aria-invalid="true"' in page.text
    assert await _console_events(app, "audit-search") == []  # nothing was searched
    form = await http.get("/console/auditor")
    assert form.status_code == 200
    assert "Eventos encontrados" not in form.text
    # A cursor that is not one reads as the first page, not as an error.
    garbled = await http.get("/console/auditor", params={"before": "x1", "search": "1"})
    assert garbled.status_code == 200
    assert "Eventos encontrados" in garbled.text


async def test_pages_run_newest_first_and_the_export_holds_every_match(
    app: FastAPI, http: httpx.AsyncClient, settings: Settings
) -> None:
    await append_events(settings.database_url, 120)  # reniec.person events of test clients
    await _sign_in(app, http, "ana")
    query = {"service": "reniec.person", "search": "1"}
    first = await http.get("/console/auditor", params=query)
    assert first.status_code == 200
    sequences = [int(s) for s in re.findall(r"<tr>\s*<td[^>]*>(\d+)</td>", first.text)]
    assert sequences == list(range(120, 70, -1))
    older = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert older
    second = await http.get(older.group(1).replace("&amp;", "&"))
    assert [int(s) for s in re.findall(r"<tr>\s*<td[^>]*>(\d+)</td>", second.text)] == list(
        range(70, 20, -1)
    )
    newer = re.search(r'href="([^"]+)" rel="prev"', second.text)
    assert newer
    back = await http.get(newer.group(1).replace("&amp;", "&"))
    assert [int(s) for s in re.findall(r"<tr>\s*<td[^>]*>(\d+)</td>", back.text)] == sequences

    export = await http.get("/console/auditor/events/export", params={"service": "reniec.person"})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"].startswith('attachment; filename="eventos-')
    table = list(csv.DictReader(io.StringIO(export.text)))
    assert list(table[0]) == EXPORT_COLUMNS
    assert [int(r["sequence"]) for r in table] == list(range(1, 121))
    exports = await _console_events(app, "audit-export")
    assert len(exports) == 1
    assert json.loads(exports[0]["reason"]) == {"service": "reniec.person"}


async def test_the_disclosure_report_on_screen_and_as_a_spanish_pdf(
    app: FastAPI, http: httpx.AsyncClient, looked_up: Any
) -> None:
    dni, cui = looked_up.mother.dni, looked_up.child.cui
    await _sign_in(app, http, "ana")
    page = await http.get("/console/auditor/person", params={"document": dni})
    assert page.status_code == 200
    assert f"Entregas de datos del documento {dni}" in page.text
    assert "Identidad por DNI (RENIEC)" in page.text
    assert "Registro de consentimientos" in page.text
    assert "Decreto de Urgencia 095-2020, artículo 6" in page.text
    assert "Descargar PDF" in page.text

    pdf = await http.get("/console/auditor/person/pdf", params={"document": dni})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    disposition = pdf.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="informe-divulgaciones-')
    assert dni not in disposition
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).split()
    )
    assert "Informe de divulgaciones de datos personales" in text
    assert f"Documento (DNI o CUI): {dni}" in text
    assert "Entregas registradas: 2" in text
    assert "Identidad por DNI (RENIEC)" in text
    assert "usuario: official-12" in text
    assert "puntos de control firmados, íntegros" in text

    child = await http.get("/console/auditor/person/pdf", params={"document": cui})
    child_text = " ".join(PdfReader(io.BytesIO(child.content)).pages[0].extract_text().split())
    assert "Atenciones de salud del niño o niña (MINSA HIS)" in child_text
    assert "Consentimiento de la persona cuidadora" in child_text

    reports = await _console_events(app, "disclosure-report")
    pdfs = await _console_events(app, "disclosure-report-pdf")
    assert [e["user_id"] for e in reports + pdfs] == ["ana", "ana", "ana"]
    pseudonyms = app.state.gateway.pseudonyms
    assert pseudonyms.of("dni", dni) in reports[0]["subjects"]
    assert all(
        dni not in json.dumps(e, default=str) and cui not in json.dumps(e, default=str)
        for e in reports + pdfs
    )

    wrong = await http.get("/console/auditor/person", params={"document": "12"})
    assert wrong.status_code == 422
    assert "Escriba los 8 dígitos" in wrong.text


async def test_verification_shows_its_result_and_refuses_forged_or_foreign_state(
    app: FastAPI, http: httpx.AsyncClient, looked_up: Any, settings: Settings
) -> None:
    await append_events(settings.database_url, 20)
    await app.state.gateway.sealer.seal_now()
    await _sign_in(app, http, "ana")
    page = await http.get("/console/auditor/verify")
    refused = await http.post("/console/auditor/verify", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    started = await http.post("/console/auditor/verify", data={"csrf_token": _csrf(page)})
    assert started.status_code == 303
    location = started.headers["location"]
    assert location.startswith("/console/auditor/verify/progress?state=")
    progress = []
    for _ in range(20):
        step = await http.get(location)
        if step.status_code == 303:
            location = step.headers["location"]
            if "/verify/result" in location:
                break
        else:
            assert step.status_code == 200
            assert '<meta http-equiv="refresh"' in step.text
            progress.append(re.search(r'<progress[^>]* value="(\d+)"', step.text).group(1))  # type: ignore[union-attr]
            location = re.search(r'url=([^"]+)"', step.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert len(progress) >= 2
    assert [int(p) for p in progress] == sorted(int(p) for p in progress)
    result = await http.get(location)
    assert result.status_code == 200
    assert "La cadena de auditoría está íntegra." in result.text
    assert "Eventos comprobados" in result.text
    assert "Puntos de control firmados verificados" in result.text
    finished = await _console_events(app, "audit-verify-result")
    assert json.loads(finished[0]["reason"])["chain_ok"] is True
    assert [e["user_id"] for e in await _console_events(app, "audit-verify")] == ["ana"]

    state = parse_qs(urlsplit(location).query)["state"][0]
    body, mac = state.split(".")
    forged = await http.get("/console/auditor/verify/result", params={"state": body + ".AAAA"})
    assert forged.status_code == 400
    assert "ya no es válido" in forged.text
    # Another person's session cannot use this one's state.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=str(http.base_url)) as other:
        await _sign_in(app, other, "beto")
        foreign = await other.get("/console/auditor/verify/result", params={"state": state})
        assert foreign.status_code == 400


async def test_only_auditors_open_the_pages(app: FastAPI, http: httpx.AsyncClient) -> None:
    anonymous = await http.get("/console/auditor", params={"subject": "60542601"})
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/console/login?next=")
    await _sign_in(app, http, "olga", "operator")
    for path in ("/console/auditor", "/console/auditor/person", "/console/auditor/verify"):
        assert (await http.get(path)).status_code == 403
