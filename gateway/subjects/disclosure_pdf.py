"""The disclosure report as a printable PDF: the answer a person gets when they exercise
their right of access (ARCO, Law 29733 on personal data protection) and ask who received
their data through the gateway.

One A4 document, in Spanish by default (English on request): the title, the document
number the report is about (the report is handed to that person, so it names them),
when it was generated, whether the audit chain the disclosures come from passed its
verification, then one row per disclosure: when (Lima time), to whom, for what purpose,
which data, on what legal basis, with the audit event's number so that each row can be
checked against the log. Every text comes from the ``auditor`` catalogs
(``gateway.auditing.labels``).

The PDF uses the standard Helvetica font every PDF reader has (no font file is shipped
or embedded); its text is encoded as Windows-1252, which holds every Spanish letter and
sign (á é í ó ú ü ñ ¿ ¡); a character outside it prints as ``?``. The document number
goes into the PDF only, never into a log line or the file name.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal
from fpdf import FPDF, FontFace
from fpdf.enums import TableCellFillMode

from audit.verify import Report
from gateway.auditing.labels import N_, Labels
from gateway.core.i18n import number_locale
from gateway.subjects.service import DisclosureReport

# Times are printed where the programme and the people it serves are.
LIMA = ZoneInfo("America/Lima")
_ENCODING = "windows-1252"


def latin_safe(text: str) -> str:
    """``text`` as the PDF's standard font can print it: composed accents, every
    character Windows-1252 lacks replaced by ``?``."""
    composed = unicodedata.normalize("NFC", text)
    return composed.encode(_ENCODING, errors="replace").decode(_ENCODING)


def when(moment: datetime, locale: str) -> str:
    """A moment as people in Peru read it: ``4 dic 2026, 09:15`` (Lima time)."""
    return format_datetime(moment, "d MMM y, HH:mm", tzinfo=LIMA, locale=locale)


class _Document(FPDF):
    def __init__(self, heading: str, page_label: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.core_fonts_encoding = _ENCODING
        self.heading = heading
        self.page_label = page_label
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=18)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, latin_safe(self.heading), new_x="LMARGIN", new_y="NEXT")
        self.ln(2)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        text = self.page_label.format(page=self.page_no(), pages="{nb}")
        self.cell(0, 5, latin_safe(text), align="R")
        self.set_text_color(0, 0, 0)


def render_disclosure_pdf(report: DisclosureReport, locale: str = "es") -> bytes:
    """The report as PDF bytes in ``locale`` (``es`` or ``en``; others get Spanish)."""
    labels = Labels(locale, report.catalog)
    t = labels.text
    title = t(N_("Report of disclosures of personal data"))
    pdf = _Document(title, t(N_("Page {page} of {pages}")))
    pdf.set_title(latin_safe(title))
    pdf.set_lang("en" if locale == "en" else "es")
    pdf.set_creator("JUNTOS")
    pdf.set_creation_date(report.generated_at)
    pdf.add_page()

    def paragraph(text: str, size: float = 10, style: str = "", height: float = 5) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, height, latin_safe(text), new_x="LMARGIN", new_y="NEXT")

    paragraph(t(N_("JUNTOS interoperability gateway")), 9)
    paragraph(title, 16, "B", 8)
    paragraph(t(N_("Answer to the right of access (ARCO), Law 29733 on personal data")), 10)
    pdf.ln(3)
    paragraph(t(N_("Document (DNI or CUI): {document}")).format(document=report.document), 11, "B")
    paragraph(
        t(N_("Generated on {moment} (Lima time)")).format(moment=when(report.generated_at, locale)),
        10,
    )
    pdf.ln(3)
    paragraph(
        t(
            N_(
                "This report lists every time the JUNTOS interoperability gateway gave "
                "personal data of the person with this document to another system: when, "
                "to whom, for what purpose, which data and on what legal basis. Each "
                "disclosure is an event of the gateway's audit log, which is chained and "
                "signed so that no event can be changed or removed unnoticed."
            )
        ),
        10,
    )
    pdf.ln(2)
    for index, line in enumerate(_chain_lines(report.chain, labels)):
        paragraph(line, 10, "" if index else "B")
    pdf.ln(2)

    count = len(report.disclosures)
    if not count:
        paragraph(t(N_("The audit log records no disclosure of this person's data.")), 10, "B")
        return bytes(pdf.output())
    paragraph(
        labels.text(N_("Disclosures recorded: {count}")).format(
            count=format_decimal(count, locale=number_locale(locale))
        ),
        10,
        "B",
    )
    if report.truncated:
        paragraph(
            t(N_("Only the first {count} disclosures are listed.")).format(
                count=format_decimal(count, locale=number_locale(locale))
            ),
            9,
        )
    pdf.ln(1)
    _table(pdf, report, labels)
    pdf.ln(3)
    paragraph(
        t(
            N_(
                "Event: the number of the disclosure in the audit log. Times are Lima "
                "time. Fields are named as the programme's catalog names them."
            )
        ),
        8,
        height=4,
    )
    return bytes(pdf.output())


def _chain_lines(chain: Report | None, labels: Labels) -> list[str]:
    t = labels.text

    def number(n: int | None) -> str:
        return format_decimal(n or 0, locale=number_locale(labels.locale))

    if chain is None:
        return [t(N_("The audit chain was not verified for this report."))]
    if not chain.ok:
        lines = [
            t(
                N_(
                    "Warning: the audit log failed its verification at event {seq}; this "
                    "report may be incomplete or altered."
                )
            ).format(seq=chain.first_broken_seq)
        ]
        if chain.reason:
            lines.append(t(N_("Reason: {reason}")).format(reason=chain.reason))
        return lines
    lines = [
        t(
            N_(
                "Audit log verified when this report was generated: {events} events "
                "(from {first} to {last}) and {checkpoints} signed checkpoints, intact."
            )
        ).format(
            events=number(chain.events_checked),
            first=chain.first_seq,
            last=chain.last_seq,
            checkpoints=number(chain.checkpoints_checked),
        )
    ]
    if chain.unsealed:
        lines.append(
            t(N_("{count} recent events were not yet sealed into the chain.")).format(
                count=number(chain.unsealed)
            )
        )
    return lines


def _table(pdf: FPDF, report: DisclosureReport, labels: Labels) -> None:
    t = labels.text
    headings = [
        t(N_("Event")),
        t(N_("Date and time")),
        t(N_("Received by")),
        t(N_("Purpose")),
        t(N_("Data disclosed")),
        t(N_("Legal basis")),
    ]
    pdf.set_font("Helvetica", "", 8)
    with pdf.table(
        col_widths=(13, 24, 35, 32, 46, 30),
        text_align="LEFT",
        v_align="TOP",
        line_height=3.8,
        padding=1.2,
        headings_style=FontFace(emphasis="BOLD", fill_color=(225, 230, 236)),
        cell_fill_color=(246, 247, 249),
        cell_fill_mode=TableCellFillMode.ROWS,
    ) as table:
        row = table.row()
        for heading in headings:
            row.cell(latin_safe(heading))
        for d in report.disclosures:
            receiver = (
                d.client_name
                or labels.starter(d.client_id)
                or d.client_id
                or t(N_("unknown system"))
            )
            if d.user_id:
                receiver += "\n" + t(N_("user: {user}")).format(user=d.user_id)
            source = labels.service(d.service)
            if d.partner:
                source += f" ({labels.partner(d.partner)})"
            basis = labels.legal_basis(d.legal_basis)
            citation = labels.citation(d.legal_basis)
            if citation:
                basis += f"\n{citation}"
            row = table.row()
            for text in (
                str(d.sequence),
                when(d.timestamp, labels.locale),
                receiver,
                labels.purpose(d.purpose),
                f"{source}: {labels.fields(d.fields_disclosed)}",
                basis,
            ):
                row.cell(latin_safe(text))
