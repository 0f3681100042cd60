"""The partner agent's pages in Chromium, against ``serve`` in sandbox mode: the MINSA HIS
agent uploads an Excel export with one bad row and reads its receipt, a file with a wrong
header is refused whole naming the column, and each page is accessible and
screenshotted (desktop and phone width)."""

from __future__ import annotations

import codecs
import re
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.fixtures.browser import ConsolePage, assert_accessible, screenshot

# A sandbox household's child (seed 2020), as in ../shared/field-cases.
CUI = "39774981"
HEADER = "cui;appointment_id;service_date;item_code;facility;lab_value"


def excel_file(folder: Path, name: str, header: str, *rows: str) -> Path:
    """What Excel writes as "CSV UTF-8" in a Spanish locale (field cases 06 and 07):
    a byte order mark, semicolons, CRLF line ends."""
    path = folder / name
    path.write_bytes(codecs.BOM_UTF8 + "\r\n".join((header, *rows)).encode() + b"\r\n")
    return path


def upload(page: Page, path: Path) -> None:
    page.get_by_label("Archivo", exact=True).set_input_files(path)
    page.get_by_role("button", name="Subir y revisar").click()


def fits_the_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_his_agent_uploads_a_file_with_a_bad_row_and_reads_its_receipt(
    console_page: ConsolePage, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]  # a file of its own: not a resend of an earlier run's
    page = console_page("partner-agent")
    page.goto("/console/agent")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Archivos de MINSA HIS (servicios de salud)"
    )
    expect(page.get_by_role("link", name="Nacimientos")).to_have_count(0)
    screenshot(page, "agent-home")
    assert_accessible(page)

    page.get_by_role("link", name="Atenciones de salud (HIS)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Subir un archivo: Atenciones de salud (HIS)"
    )
    expect(page.get_by_text("1 GiB, el mismo límite que el de la API")).to_be_visible()
    screenshot(page, "agent-upload")
    assert_accessible(page)

    his = excel_file(
        tmp_path,
        "his-febrero.csv",
        HEADER,
        f"{CUI};{run}-1;2021-02-10;90681;00001234;1",
        f"{CUI};{run}-2;2021-02-30;90681;00001234;1",  # February has no 30th
        f"{CUI};{run}-3;2021-02-11;99199.17;00001234;",
    )
    upload(page, his)
    expect(page).to_have_url(re.compile(r"/console/agent/receipts/health-records/health-records-"))
    counts = page.locator("#counts")
    expect(counts).to_contain_text("2 filas aceptadas")
    expect(counts).to_contain_text("1 fila rechazada")
    refused = page.locator("#refusals tbody tr")
    expect(refused).to_have_count(1)
    expect(refused.locator("td")).to_have_text(
        ["service_date", "no es un día del calendario", "1", "3"]
    )
    expect(page.locator("main")).not_to_contain_text(f"{run}-2")
    # Listed among the agent's uploads, marked as the one shown.
    expect(page.locator("#uploads-heading + .table-wrap a[aria-current=page]")).to_have_count(1)
    screenshot(page, "agent-receipt")
    assert_accessible(page)

    phone = console_page("partner-agent", phone=True)
    phone.goto(page.url)
    expect(phone.locator("#counts")).to_contain_text("1 fila rechazada")
    assert fits_the_width(phone)
    screenshot(phone, "agent-receipt-phone")
    assert_accessible(phone)


def test_a_file_with_a_wrong_header_is_refused_whole_naming_the_column(
    console_page: ConsolePage, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    page = console_page("partner-agent")
    page.goto("/console/agent/feeds/health-records")
    wrong = excel_file(
        tmp_path,
        "his-encabezado.csv",
        "cui;cita;service_date;item_code;facility;lab_value",
        f"{CUI};{run}-1;2021-02-10;90681;00001234;1",
    )
    upload(page, wrong)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("El archivo no se recibió")
    expect(alert).to_contain_text("Falta la columna «appointment_id».")
    expect(alert).to_contain_text("La columna 2 («cita») no es una columna de este canal.")
    expect(alert).to_contain_text("No se guardó nada de este archivo")
    screenshot(page, "agent-upload-refused")
    assert_accessible(page)
    page.goto("/console/agent")
    expect(page.locator("main")).not_to_contain_text(f"{run}-1")
