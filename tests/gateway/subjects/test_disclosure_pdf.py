"""The disclosure report as PDF, read back as a person's PDF reader would: Spanish by
default with its accents, English on request, one row per disclosure with human names,
the chain's verification stated."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from audit.verify import Broken, Report
from gateway.catalog.loader import load_catalog
from gateway.catalog.models import Catalog
from gateway.settings import Settings
from gateway.subjects.disclosure_pdf import latin_safe, render_disclosure_pdf
from gateway.subjects.service import Disclosure, DisclosureReport


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return load_catalog(settings.catalog_path, settings.catalog_schema_path)


def _disclosure(seq: int, **changes: object) -> Disclosure:
    values: dict[str, object] = {
        "sequence": seq,
        "timestamp": datetime(2021, 2, 10, 15, 30, tzinfo=UTC),
        "client_id": "c-affiliation",
        "client_name": "Sistema de afiliación",
        "user_id": "official-12",
        "purpose": "affiliation",
        "legal_basis": "du-095-2020-art6",
        "service": "reniec.person",
        "partner": "reniec",
        "fields_disclosed": ["dni", "given_names", "address"],
        "subject_role": ["dni"],
    }
    values.update(changes)
    return Disclosure(**values)  # type: ignore[arg-type]


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _report(
    catalog: Catalog, disclosures: list[Disclosure], chain: Report | None
) -> DisclosureReport:
    return DisclosureReport(
        document="60542601",
        generated_at=datetime(2026, 12, 4, 14, 5, tzinfo=UTC),
        disclosures=disclosures,
        chain=chain,
        catalog=catalog,
    )


INTACT = Report(ok=True, events_checked=1200, checkpoints_checked=3, first_seq=1, last_seq=1200)


def test_spanish_report_names_every_disclosure_with_accents(catalog: Catalog) -> None:
    report = _report(
        catalog,
        [
            _disclosure(41),
            _disclosure(
                97,
                timestamp=datetime(2021, 3, 1, 4, 0, tzinfo=UTC),
                client_name="Sistema de pagos",
                user_id=None,
                purpose="payment",
                legal_basis="consent",
                service="bn.account-opening",
                partner="bn",
                fields_disclosed=["account_number", "cci"],
            ),
        ],
        INTACT,
    )
    pdf = render_disclosure_pdf(report, "es")
    assert pdf.startswith(b"%PDF-")
    text = _flat(_text(pdf))
    assert "Informe de divulgaciones de datos personales" in text
    assert "Documento (DNI o CUI): 60542601" in text
    # 14:05 UTC is 09:05 in Lima.
    assert "Generado el 4 dic 2026, 09:05 (hora de Lima)" in text
    assert "Ley 29733 de Protección de Datos Personales" in text
    assert "1,200 eventos (del 1 al 1200) y 3 puntos de control firmados, íntegros" in text
    assert "Entregas registradas: 2" in text
    # 15:30 UTC on 10 February 2021 is 10:30 in Lima.
    assert "10 feb 2021, 10:30" in text
    assert "Sistema de afiliación" in text
    assert "usuario: official-12" in text
    assert "Afiliación a la intervención del DU 095-2020" in text
    assert "Identidad por DNI (RENIEC)" in text
    assert "nombres, dirección" in text
    assert "Decreto de Urgencia 095-2020, artículo 6" in text
    assert "DU 095-2020 art. 6" in text  # the catalog's citation
    assert "Apertura de cuenta y pago de transferencias" in text
    assert "número de cuenta, código de cuenta interbancario (CCI)" in text
    assert "Consentimiento de la persona cuidadora" in text
    assert "Página 1 de 1" in text
    assert "affiliation" not in text.replace("afiliación", "")  # no code names


def test_english_report_on_request(catalog: Catalog) -> None:
    pdf = render_disclosure_pdf(_report(catalog, [_disclosure(41)], INTACT), "en")
    text = _flat(_text(pdf))
    assert "Report of disclosures of personal data" in text
    assert "Document (DNI or CUI): 60542601" in text
    assert "Affiliation to the DU 095-2020 intervention" in text
    assert "Emergency Decree 095-2020, article 6" in text
    assert "given names, address" in text
    assert "Page 1 of 1" in text


def test_a_broken_chain_and_no_disclosures_are_said_plainly(catalog: Catalog) -> None:
    broken = Report(events_checked=40).broken(Broken(41, "hash mismatch"))
    text = _flat(_text(render_disclosure_pdf(_report(catalog, [], broken), "es")))
    assert "no superó la verificación en el evento 41" in text
    assert "Motivo: hash mismatch" in text
    assert "no contiene ninguna entrega de datos de esta persona" in text
    unverified = _flat(_text(render_disclosure_pdf(_report(catalog, [], None), "es")))
    assert "no se verificó" in unverified


def test_a_long_report_runs_over_pages_with_their_numbers(catalog: Catalog) -> None:
    rows = [_disclosure(seq) for seq in range(1, 121)]
    reader = PdfReader(io.BytesIO(render_disclosure_pdf(_report(catalog, rows, INTACT), "es")))
    pages = len(reader.pages)
    assert pages > 2
    last = _flat(reader.pages[-1].extract_text())
    assert f"Página {pages} de {pages}" in last
    assert "Informe de divulgaciones de datos personales" in last  # the running heading
    assert "Entregas registradas: 120" in _flat(reader.pages[0].extract_text())


def test_text_the_standard_font_cannot_print_becomes_a_question_mark() -> None:
    assert latin_safe("Ñandú — «¿sí?» ✓") == "Ñandú — «¿sí?» ?"
    assert latin_safe("Jose\u0301") == "José"  # decomposed accents are composed
