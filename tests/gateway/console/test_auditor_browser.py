"""The auditor's main path in Chromium, against ``serve`` in sandbox mode after a
programme system made audited look-ups of one household: search by the mother's DNI,
open her disclosure report, download it as PDF and read it, verify the chain; each page
accessible and screenshotted."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from adapters.sandbox.settings import SandboxSettings
from tests.fixtures.browser import (
    SCREENSHOTS,
    ConsolePage,
    ConsoleServer,
    assert_accessible,
    screenshot,
)
from tests.fixtures.partners import adult


@pytest.fixture(scope="module")
def household(console_server: ConsoleServer) -> Any:
    """A household of the sandbox population looked up through the live gateway by the
    sandbox's consumer client: identity for affiliation (by an official), phone lines
    for contact, and her bank account, refused for want of consent."""
    seeded = json.loads((console_server.cwd / "var" / "sandbox-clients.json").read_text())
    consumer = next(c for c in seeded["clients"] if c["role"] == "consumer")
    token = httpx.post(
        console_server.url("/v1/token"),
        data={
            "grant_type": "client_credentials",
            "client_id": consumer["client_id"],
            "client_secret": consumer["client_secret"],
        },
    ).json()["access_token"]
    h = adult(SandboxSettings(_env_file=None).population, 4321)  # type: ignore[call-arg]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=console_server.base, headers=headers, timeout=30) as http:
        person = http.get(
            f"/v1/persons/{h.mother.dni}",
            headers={"X-Purpose": "affiliation", "X-User-Id": "official-7"},
        )
        assert person.status_code == 200, person.text
        lines = http.get(
            f"/v1/persons/{h.mother.dni}/phone-lines", headers={"X-Purpose": "contact"}
        )
        assert lines.status_code == 200, lines.text
        refused = http.get(f"/v1/accounts/{h.mother.dni}", headers={"X-Purpose": "payment"})
        assert refused.status_code == 403, refused.text  # no consent recorded
    return h


def _pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def test_an_auditor_finds_every_access_to_a_household_and_prints_its_report(
    console_page: ConsolePage, household: Any
) -> None:
    dni = household.mother.dni
    page = console_page("auditor")
    page.goto("/console/auditor")
    expect(page.get_by_role("heading", name="Buscar en el registro de auditoría")).to_be_visible()
    screenshot(page, "auditor-search")
    assert_accessible(page)

    page.get_by_label("DNI o CUI de la persona").fill(dni)
    page.get_by_role("button", name="Buscar", exact=True).click()
    results = page.get_by_role("table")
    expect(results).to_contain_text("Identidad por DNI")
    expect(results).to_contain_text("Líneas de telefonía móvil")
    expect(results).to_contain_text("usuario: official-7")
    expect(results).to_contain_text("denegado")
    expect(results).to_contain_text("sin consentimiento")
    screenshot(page, "auditor-search-results")
    assert_accessible(page)

    page.get_by_role("link", name="Informe de divulgaciones de esta persona").click()
    expect(
        page.get_by_role("heading", name=f"Entregas de datos del documento {dni}")
    ).to_be_visible()
    report = page.get_by_role("table")
    expect(report).to_contain_text("Afiliación a la intervención del DU 095-2020")
    expect(report).to_contain_text("Contacto telefónico con la persona cuidadora")
    expect(report).to_contain_text("Decreto de Urgencia 095-2020, artículo 6")
    screenshot(page, "auditor-disclosure-report")
    assert_accessible(page)

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Descargar PDF").click()
    download = downloading.value
    assert download.suggested_filename.startswith("informe-divulgaciones-")
    assert download.suggested_filename.endswith(".pdf")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    kept = SCREENSHOTS / "auditor-disclosure-report.pdf"
    download.save_as(kept)
    text = _pdf_text(kept.read_bytes())
    assert "Informe de divulgaciones de datos personales" in text
    assert f"Documento (DNI o CUI): {dni}" in text
    assert "Entregas registradas: 2" in text
    assert "Identidad por DNI (RENIEC)" in text
    assert "Líneas de telefonía móvil (OSIPTEL)" in text
    assert "usuario: official-7" in text
    assert "puntos de control firmados, íntegros" in text


def test_an_auditor_verifies_the_chain(console_page: ConsolePage, household: Any) -> None:
    page = console_page("auditor")
    page.goto("/console/auditor/verify")
    expect(page.get_by_role("heading", name="Verificar la cadena de auditoría")).to_be_visible()
    screenshot(page, "auditor-verify")
    assert_accessible(page)
    # Held on the progress page: the stretch it asks for next answers 204 (no navigation).
    page.route("**/console/auditor/verify/run?*", lambda route: route.fulfill(status=204))
    page.get_by_role("button", name="Verificar la cadena ahora").click()
    expect(page).to_have_url(re.compile(r"/console/auditor/verify/progress\?state="))
    expect(page.get_by_role("heading", name="Verificando la cadena de auditoría")).to_be_visible()
    expect(page.get_by_label("Avance")).to_have_attribute("value", "0")
    screenshot(page, "auditor-verify-progress")
    assert_accessible(page)
    page.unroute("**/console/auditor/verify/run?*")
    page.get_by_role("link", name="Continuar si la página no avanza sola").click()
    expect(page).to_have_url(re.compile(r"/console/auditor/verify/result\?state="))
    expect(page.get_by_role("status")).to_contain_text("La cadena de auditoría está íntegra.")
    expect(page.locator("dl")).to_contain_text("Eventos comprobados")
    screenshot(page, "auditor-verify-result")
    assert_accessible(page)


def _fits_the_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_auditor_pages_fit_a_phone_and_the_report_comes_in_english_on_request(
    console_page: ConsolePage, household: Any
) -> None:
    dni = household.mother.dni
    phone = console_page("auditor", phone=True)
    phone.goto(f"/console/auditor?subject={dni}&search=1")
    expect(phone.get_by_role("table")).to_contain_text("Identidad por DNI")
    assert _fits_the_width(phone)
    screenshot(phone, "auditor-search-results-phone")
    assert_accessible(phone)
    phone.goto(f"/console/auditor/person?document={dni}")
    assert _fits_the_width(phone)
    screenshot(phone, "auditor-disclosure-report-phone")

    english = console_page("auditor")
    english.goto(f"/console/auditor/person?document={dni}")
    english.get_by_role("button", name="English").click()  # the console's language switch
    expect(english.locator("html")).to_have_attribute("lang", "en")
    english.goto(f"/console/auditor/person?document={dni}")
    heading = f"Disclosures of the data of document {dni}"
    expect(english.get_by_role("heading", name=heading)).to_be_visible()
    expect(english.get_by_role("table")).to_contain_text("Identity by DNI")
    screenshot(english, "auditor-disclosure-report-english")
    with english.expect_download() as downloading:
        english.get_by_role("link", name="Download PDF").click()
    assert downloading.value.suggested_filename.startswith("disclosure-report-")
    text = _pdf_text(Path(downloading.value.path()).read_bytes())
    assert "Report of disclosures of personal data" in text
    assert "Reaching the caregiver by phone" in text
    assert_accessible(english)
