"""The programme's report: Spanish by default and English on request, human labels,
counts with percentages, money in soles, values written on the bars, the operation's own
funnel adding up on the page with every drop-out reason, the SMS follow-up month by
month, the semáforo and the reminders by territorial unit, and the run's summary beside
the published figures."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import lxml.html
import pytest
from lxml.html import HtmlElement
from rich.console import Console

from program.operation import EXCLUSIONS, STAGES, Household, Results, StepFigures, funnel_stages
from program.published import PUBLISHED
from program.reminders import ReminderFigures
from program.report import STAGE_LABELS, Words, steps_table, summary_table, write_html
from program.territory import Place, Territory, load_units
from tests.fixtures.report_pages import assert_funnel_adds_up, funnel_rows, number

AS_OF = date(2021, 3, 1)
AMAZONAS, MOQUEGUA = "010101", "180101"
VALUES = './/text[@class="value"]'
# Codes the operation gives households that stop, stage by stage (program.operation._fate).
STOPPED = (
    *EXCLUSIONS,
    "refused",
    "error-partner-unavailable",
    "error-timeout",
    "account-refused-deceased-holder",
    "account-refused-cuenta-bloqueada",
    "account-partner-invalid-input",
    "first-transfer-rejected",
    "first-transfer-not-sent",
    "first-transfer-failed",
    "priority-very-high",
    "priority-high",
    "priority-medium",
    "priority-low",
    "verdict-partner-unavailable",
    "account-opened",
    "account-existing",
)


def household(n: int, outcome: str, ubigeo: str = AMAZONAS, **fate: object) -> Household:
    h = Household(
        cui=f"{70000000 + n}",
        mother_dni=f"{40000000 + n}",
        mother_names=f"MADRE {n}",
        ubigeo=ubigeo,
        birth_date=date(2020, 6, 1),
        alive=True,
        in_juntos=False,
        outcome=outcome,
    )
    h.new_account = outcome == "account-opened"  # as the operation marks a new account
    for name, value in fate.items():
        setattr(h, name, value)
    return h


def operation_results() -> Results:
    """Every fate a household can meet in the operation, a few of each; six paid children
    in Moquegua with a service missing, reminded by SMS; two months of reminders."""
    households: list[Household] = []
    n = 0

    def add(count: int, outcome: str, ubigeo: str = AMAZONAS, **fate: object) -> None:
        nonlocal n
        for _ in range(count):
            households.append(household(n, outcome, ubigeo, **fate))
            n += 1

    for k, reason in enumerate(EXCLUSIONS):
        add(k + 1, reason)
    add(2, "refused", lines=1)
    add(1, "error-partner-unavailable")
    add(1, "error-timeout")
    affiliated = {"consent_id": "c", "lines": 1}
    add(2, "account-refused-deceased-holder", priority="low", **affiliated)
    add(1, "account-partner-invalid-input", priority="low", **affiliated)
    account = {"cci": "1" * 20, **affiliated}
    add(1, "account-opened", t1="rejected", priority="high", reminders=3, **account)
    add(1, "account-existing", priority="low", **account)  # the transfer was never sent
    paid = {"t1": "paid", **account}
    add(6, "account-opened", compliant=True, priority="low", t2="paid", **paid)
    # Compliant now, reminded in November.
    add(1, "account-existing", compliant=True, priority="low", t2="paid", reminders=1, **paid)
    add(4, "account-opened", MOQUEGUA, missing=("rotavirus-2", "iron-drops"), priority="very-high",
        reminders=3, **paid)  # fmt: skip
    add(2, "account-opened", MOQUEGUA, missing=("iron-drops",), priority="medium", reminders=2,
        **paid)  # fmt: skip
    # Reminded in November; no verdict this month.
    add(1, "verdict-partner-unavailable", reminders=1, **paid)
    results = Results(as_of=AS_OF, period="2021-02", households=households)
    for h in households:
        if h.priority:  # as the operation counts the semáforo: by region
            results.semaforo[h.ubigeo[:2]][h.priority] += 1
    results.payments = {
        "T1": {
            "payees": 15,
            "paid": 14,
            "rejected": 1,
            "booked": 14,
            "second_debits": 0,
            "amount": str(Decimal(200) * 14),
        },  # fmt: skip
        "T2": {
            "payees": 7,
            "paid": 7,
            "rejected": 0,
            "booked": 7,
            "second_debits": 0,
            "amount": str(Decimal(200) * 7),
        },  # fmt: skip
    }
    results.items["rotavirus-2"] = Counter({"given": 10, "missing": 4})
    results.items["iron-drops"] = Counter({"given": 8, "missing": 6})
    results.reminders = {
        "2020-11": ReminderFigures(
            "2020-11",
            asked=10,
            no_line=2,
            counts=Counter({"delivered": 5, "failed": 1, "opted_out": 1, "refused": 1}),
        ),
        # December in two rounds: two reminders to each caregiver with a mobile line.
        "2020-12": ReminderFigures(
            "2020-12",
            rounds=2,
            asked=8,
            no_line=1,
            counts=Counter(
                {"delivered": 9, "submitted": 1, "expired": 1, "opted_out": 2, "refused": 1}
            ),
        ),
    }
    # Who was to be reminded: 7 caregivers in both months (one without a mobile line),
    # 3 in November only (one without) and 1 in December only: 10 and 8 a month, 11 in all.
    for k, (months, mobile) in enumerate(
        [(2, True)] * 6 + [(2, False)] + [(1, True)] * 2 + [(1, False)] + [(1, True)]
    ):
        households[k].months_to_remind = months
        households[k].mobile = f"9{k:08d}" if mobile else None
    results.steps = [
        StepFigures("verdicts 2020-11", seconds=1.0, records=10),
        StepFigures("reminders 2020-12", seconds=2.0, records=8),
        StepFigures("reminders sent", seconds=3.0, records=4),
    ]
    results.audit = {"ok": True, "events_checked": 1234, "checkpoints_checked": 3}
    results.born_from, results.born_to, results.newborns_cap = (
        date(2020, 11, 14),
        date(2021, 2, 28),
        2_000,
    )
    results.territory = Territory(
        load_units(),
        [Place(AMAZONAS, "AMAZONAS", -6.23, -77.87), Place(MOQUEGUA, "MOQUEGUA", -17.19, -70.93)],
    )
    return results


def render(results: Results, tmp_path: Path, locale: str | None = None) -> HtmlElement:
    kwargs = {} if locale is None else {"locale": locale}
    path = write_html(results, tmp_path / f"report-{locale}.html", **kwargs)
    return lxml.html.fromstring(path.read_text(encoding="utf-8"))


def page(tmp_path: Path, locale: str | None = None) -> HtmlElement:
    return render(operation_results(), tmp_path, locale)


def table_rows(doc: HtmlElement, cls: str, part: str = "tbody") -> dict[str, list[str]]:
    return {
        tr[0].text_content(): [c.text_content() for c in tr[1:]]
        for tr in doc.xpath(f'//table[@class="{cls}"]/{part}/tr')
    }


def test_spanish_by_default_with_labels_percentages_and_soles(tmp_path: Path) -> None:
    doc = page(tmp_path)
    text = doc.text_content()
    assert doc.get("lang") == "es"
    assert doc.findtext(".//h1").startswith("Operación DU 095-2020")
    headings = [h.text_content() for h in doc.iter("h2")]
    assert "Embudo de afiliación" in headings
    assert "Seguimiento por SMS" in headings
    assert "Semáforo por unidad territorial" in headings
    assert "Resultados publicados y esta ejecución" in headings
    # Human labels, never the code names.
    for code in (*STOPPED, *STAGES, "very-high", "rotavirus-2", "opted_out", "2020-11"):
        assert code not in text
    rows = assert_funnel_adds_up(doc)
    drops = {label.lstrip("− "): (n, share) for kind, label, n, share in rows if kind == "drop"}
    # 2 of the 44 newborns.
    assert drops["Distrito con menos de 15 % de pobreza monetaria"] == (2, "4.5 %")
    assert drops["Rechazó el acuerdo de compromiso"][0] == 2
    # Two gateway problems of the contact step read the same: one row.
    assert drops["Contacto no completado: la pasarela no respondió"][0] == 2
    # The deceased caregivers the bank refuses are counted with their reason.
    assert drops["Cuidadora registrada como fallecida: el banco rechaza la cuenta"][0] == 2
    assert drops["Cuenta no abierta: la pasarela no respondió"][0] == 1
    assert drops["Primera transferencia rechazada"][0] == 1
    assert drops["Primera transferencia no enviada"][0] == 1
    # Paid households that are not compliant, by what they miss.
    assert drops["Falta una dosis de vacuna y hierro (prioridad muy alta)"][0] == 4
    assert drops["Falta hierro (prioridad media)"][0] == 2
    assert drops["Sin verificación de salud de la pasarela"][0] == 1
    assert all(re.fullmatch(r"\d+\.\d %", share) for _, _, _, share in rows)
    # Money in soles with thousands separators (es_PE): 14 + 7 transfers of S/ 200.
    assert "Total transferido" in text
    totals = [td.text_content() for td in doc.xpath('//td[@class="total"]')]
    assert totals == ["S/\xa04,200.00"]
    assert "S/\xa02,800.00" in text
    assert "S/\xa0132,521,000.00" in text  # the published total
    assert "PEN" not in text
    # The window and cap of newborns read.
    window = doc.xpath('//p[@class="window"]')[0].text_content()
    assert "14 de noviembre de 2020" in window
    assert "28 de febrero de 2021" in window
    assert "tope de 2,000" in window


def test_the_funnel_on_the_page_is_the_operations(tmp_path: Path) -> None:
    results = operation_results()
    doc = render(results, tmp_path)
    stages = funnel_stages(results.households)
    rows = funnel_rows(doc)
    on_page = [(label, n) for kind, label, n, _ in rows if kind == "stage"]
    w = Words("es")
    assert on_page == [(w.stage(s.name), s.households) for s in stages]
    # Under each stage, its drops: as many households as the operation says left there.
    kinds = [kind for kind, _, _, _ in rows]
    starts = [i for i, kind in enumerate(kinds) if kind == "stage"] + [len(rows)]
    for stage, start, end in zip(stages, starts, starts[1:], strict=False):
        assert sum(n for _, _, n, _ in rows[start + 1 : end]) == sum(stage.dropped.values())
    assert stages[-1].name == "compliant"
    assert stages[-1].households == 7
    assert "Otro motivo" not in doc.text_content()


def test_every_stage_and_drop_out_reason_of_the_operation_has_a_label() -> None:
    assert set(STAGE_LABELS) == set(STAGES)
    for locale, other in (("es", "Otro motivo"), ("en", "Other reason")):
        w = Words(locale)
        labels = {code: w.reason(code) for code in STOPPED}
        assert other not in labels.values(), labels
        assert all(code not in label for code, label in labels.items() if "-" in code)
        assert w.reason("something-new") == other


def test_every_bar_has_its_value_written(tmp_path: Path) -> None:
    doc = page(tmp_path)
    charts = doc.xpath('//svg[@class="chart"]')
    assert len(charts) == 5  # funnel, payments, items, SMS, semáforo
    funnel = charts[0]
    values = [t.text_content() for t in funnel.xpath(VALUES)]
    assert len(funnel.xpath(".//rect")) == len(values) == 6
    stage_counts = [n for kind, _, n, _ in funnel_rows(doc) if kind == "stage"]
    assert [number(v) for v in values] == stage_counts
    assert all("%" in v for v in values)
    payments = [t.text_content() for t in charts[1].xpath(VALUES)]
    assert payments == ["S/\xa02,800.00", "S/\xa01,400.00"]
    # Stacked bars: each part wide enough carries its count; every row its total.
    items = [t.text_content() for t in charts[2].xpath(VALUES)]
    assert items == ["10", "4", "14", "8", "6", "14"]
    # SMS accepted per month, each bar with its month and count.
    sms = charts[3]
    assert [t.text_content() for t in sms.xpath(VALUES)] == ["6", "11"]
    assert [t.text_content() for t in sms.xpath(".//text[not(@class)]")] == [
        "noviembre de 2020",
        "diciembre de 2020",
    ]


def test_sms_follow_up_month_by_month(tmp_path: Path) -> None:
    results = operation_results()
    doc = render(results, tmp_path)
    header = [th.text_content() for th in doc.xpath('//table[@class="sms"]/thead//th')]
    assert header == [
        "Mes",
        "Cuidadoras por recordar",
        "Sin línea móvil",
        "Recordatorios por cuidadora",
        "Recordatorios solicitados",
        "Aceptados por la central de SMS",
        "Entregados",
        "Fallidos o vencidos",
        "Dados de baja (BAJA)",
    ]
    rows = table_rows(doc, "sms")
    # November: 10 caregivers, 2 without a mobile line, one round: 8 reminders asked;
    # 6 accepted (5 delivered, 1 failed), 1 opted out, 1 refused by the SMS centre.
    assert rows["noviembre de 2020"] == [
        "10",
        "2 (20.0 %)",
        "1",
        "8",
        "6 (75.0 %)",
        "5 (83.3 %)",
        "1 (16.7 %)",
        "1 (12.5 %)",
    ]
    # December: two rounds to the 7 with a line; one accepted still waits for its receipt.
    assert rows["diciembre de 2020"] == [
        "8",
        "1 (12.5 %)",
        "2",
        "14",
        "11 (78.6 %)",
        "9 (81.8 %)",
        "1 (9.1 %)",
        "2 (14.3 %)",
    ]
    total = doc.xpath('//table[@class="sms"]/tfoot/tr')[0]
    assert total[0].text_content() == "Todos los meses"
    cells = [c.text_content() for c in total[1:]]
    # Each caregiver once, though 7 of the 11 were to be reminded in both months (the
    # months' own rows add up to 18).
    assert cells[:2] == ["11", "2 (18.2 %)"]
    assert number(cells[4]) == results.sms_sent == 17
    assert cells[3:] == ["22", "17 (77.3 %)", "14 (82.4 %)", "2 (11.8 %)", "3 (13.6 %)"]


def test_reminders_left_queued_or_asked_before_are_said(tmp_path: Path) -> None:
    results = operation_results()
    november = results.reminders["2020-11"]
    november.counts["queued"] += 4
    november.already_requested = 3
    for locale, queued, earlier in (
        ("es", "4 recordatorios seguían en cola", "3 recordatorios ya los había solicitado"),
        ("en", "4 reminders were still queued", "3 reminders had already been asked for"),
    ):
        text = render(results, tmp_path, locale).text_content()
        assert queued in text
        assert earlier in text
    # Nothing left and nothing asked before: nothing said.
    november.counts["queued"] -= 4
    november.already_requested = 0
    text = render(results, tmp_path).text_content()
    assert "en cola" not in text
    assert "ejecución anterior" not in text


def test_a_run_without_reminders_says_so(tmp_path: Path) -> None:
    results = operation_results()
    results.reminders = {}
    for locale, said, why in (
        ("es", "Esta ejecución no envió recordatorios SMS.", "Esta ejecución no la produce."),
        ("en", "No SMS reminders in this run.", "Not produced by this run."),
    ):
        doc = render(results, tmp_path, locale)
        assert said in doc.text_content()
        assert not doc.xpath('//table[@class="sms"]')
        published = [
            [c.text_content() for c in tr]
            for tr in doc.xpath('//table[@class="published"]/tbody/tr')
        ]
        sms = [r for r in published if "SMS" in r[0]]
        assert len(sms) == 3
        assert all(r[2:] == ["—", "—", why] for r in sms), sms


def test_semaforo_and_reminders_by_territorial_unit(tmp_path: Path) -> None:
    results = operation_results()
    doc = render(results, tmp_path)
    header = [th.text_content() for th in doc.xpath('//table[@class="semaforo"]/thead//th')]
    assert header[-3:] == [
        "Niñas y niños",
        "Por seguir",
        "Recordatorios SMS solicitados, todos los meses",
    ]
    rows = table_rows(doc, "semaforo")
    # Moquegua has no programme office: its children are Arequipa's work.
    assert set(rows) == {"Unidad Territorial Arequipa", "Unidad Territorial Amazonas"}
    arequipa = rows["Unidad Territorial Arequipa"]
    assert arequipa[0] == "4 (66.7 %)"  # very high
    assert arequipa[2] == "2 (33.3 %)"  # medium
    # Children, to follow up, reminders: 4 children reminded 3 times, 2 twice.
    assert arequipa[4:] == ["6", "6", "16"]
    amazonas = rows["Unidad Territorial Amazonas"]
    # The reminders count those of a child compliant now and of one without a verdict.
    assert amazonas[4:] == ["12", "1", "5"]
    foot = [c.text_content() for c in doc.xpath('//table[@class="semaforo"]/tfoot//td')]
    assert foot[-3:] == ["18", "7", str(sum(h.reminders for h in results.households))]


def test_published_figures_beside_the_run(tmp_path: Path) -> None:
    results = operation_results()
    summary = results.summary()
    doc = render(results, tmp_path)
    by_label = table_rows(doc, "published")
    affiliated = by_label["Hogares afiliados"]
    assert affiliated[0] == f"{PUBLISHED['households_affiliated']:,}"
    assert affiliated[1] == str(summary["households_affiliated"]) == "19"
    assert affiliated[2] == "-442,599 (-100.0 %)"
    assert affiliated[3]  # an explanation
    assert by_label["Cuentas de ahorro abiertas"][1] == str(summary["accounts_opened"]) == "13"
    # 7 compliant of 19 affiliated, as the operation's summary counts them.
    compliant = by_label["Hogares que cumplen (porcentaje de los afiliados)"]
    assert compliant[:3] == ["50 %", "36.8 % (7)", "-13.2 puntos"]
    very_high = by_label["Niñas y niños de prioridad muy alta (porcentaje del semáforo)"]
    assert very_high[1] == f"22.2 % ({summary['very_high_priority_children']})"
    # The SMS the centre accepted, in all and per month.
    assert by_label["Recordatorios SMS aceptados por la central de SMS"][:3] == [
        "660,000",
        "17",
        "-659,983 (-100.0 %)",
    ]
    assert by_label["Recordatorios SMS, noviembre de 2020"][:2] == ["218,876", "6"]
    assert by_label["Recordatorios SMS, diciembre de 2020"][:2] == ["441,124", "11"]
    # No card extract in this run: not its figure.
    assert by_label["Tarjetas de débito entregadas"][1:] == [
        "—",
        "—",
        "Esta ejecución no la produce.",
    ]
    assert all(r[3] for r in by_label.values())
    # The scale of the run, said once: 23 eligible of the decree's 442,618.
    assert "son el 0.005 % de la meta del decreto" in doc.text_content()


def test_cards_delivered_when_the_bank_extract_ran(tmp_path: Path) -> None:
    results = operation_results()
    results.steps.append(StepFigures("cards", seconds=1.0, records=3))
    results.cards_delivered = 3
    by_label = table_rows(render(results, tmp_path), "published")
    assert by_label["Tarjetas de débito entregadas"][1] == "3"


def test_english_on_request(tmp_path: Path) -> None:
    doc = page(tmp_path, "en")
    text = doc.text_content()
    assert doc.get("lang") == "en"
    headings = [h.text_content() for h in doc.iter("h2")]
    assert "Affiliation funnel" in headings
    assert "SMS follow-up" in headings
    assert "Caregiver registered as deceased: the bank refuses the account" in text
    assert "A vaccine dose and iron missing (very high priority)" in text
    sms = table_rows(doc, "sms")
    assert set(sms) == {"November 2020", "December 2020"}
    assert "Accepted by the SMS centre" in text
    assert "SMS reminders asked, every month" in text
    assert "SMS reminders, November 2020" in text
    steps = list(table_rows(doc, "steps"))
    assert "Verdicts at the month's end, November 2020" in steps
    assert "SMS reminders, December 2020" in steps
    assert "SMS reminders: delivery receipts" in steps
    assert "cap of 2,000 children" in text
    assert "November 14, 2020" in text
    assert [td.text_content() for td in doc.xpath('//td[@class="total"]')] == ["S/\xa04,200.00"]
    assert "PEN" not in text
    assert "Embudo" not in text
    assert "Seguimiento" not in text
    assert_funnel_adds_up(doc)


def test_the_terminal_summary_shows_the_funnel_and_the_sms(tmp_path: Path) -> None:
    results = operation_results()
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(summary_table(results, "en"))
    text = out.getvalue()
    assert "Compliant: nothing due missing" in text
    assert "− Caregiver registered as deceased: the bank refuses the account" in text
    assert re.search(r"SMS reminders accepted: November 2020 +│ +6 messages ", text)
    assert re.search(r"Total transferred +│ +21 transfers · S/\xa04,200\.00", text)
    assert re.search(r"Audit chain +│ +intact, 1,234 events", text)
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(summary_table(results, "es"))
    assert re.search(r"Cadena de auditoría +│ +íntegra, 1,234 eventos", out.getvalue())


def test_a_step_too_short_to_time_shows_no_rate(tmp_path: Path) -> None:
    """A step of less than a tenth of a second (the table's precision) has no meaningful
    records per second: a dash, on the page and in the terminal, not a huge number."""
    results = operation_results()
    results.steps.insert(0, StepFigures("eligibility", seconds=0.004, records=583_274))
    rows = table_rows(render(results, tmp_path), "steps")
    assert rows["Elegibilidad"] == ["0.0", "583,274", "—"]
    assert rows["Verificaciones al cierre del mes, noviembre de 2020"] == ["1.0", "10", "10"]
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(steps_table(results, "en"))
    assert re.search(r"Eligibility +│ +0\.0 │ +583,274 │ +— │", out.getvalue())


@pytest.mark.parametrize("locale", ["es", "en"])
def test_the_page_holds_no_personal_data(tmp_path: Path, locale: str) -> None:
    results = operation_results()
    text = write_html(results, tmp_path / "r.html", locale=locale).read_text(encoding="utf-8")
    for h in results.households:
        assert h.cui not in text
        assert h.mother_dni not in text
        assert h.mother_names not in text
    assert "<script" not in text


def test_a_child_of_a_district_no_unit_serves_is_said_so(tmp_path: Path) -> None:
    results = operation_results()
    results.households.append(
        household(999, "account-opened", "999999", consent_id="c", priority="high")
    )
    doc = lxml.html.fromstring(write_html(results, tmp_path / "r.html").read_text())
    table = doc.xpath('//table[@class="semaforo"]')[0]
    names = [tr[0].text_content() for tr in table.xpath("./tbody/tr")]
    assert "Sin unidad: distrito sin región ni coordenadas en el registro" in names
    assert "—" not in names
