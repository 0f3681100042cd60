"""The programme's report: Spanish by default and English on request, human labels,
counts with percentages, money in soles, values written on the bars, a funnel that adds
up on the page with every drop-out reason, the semáforo by territorial unit and the
published figures beside the run's."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import lxml.html
import pytest
from lxml.html import HtmlElement

from program.operation import Household, Results
from program.published import PUBLISHED
from program.report import DROPOUTS, funnel_stages, run_figures, write_html
from program.territory import Place, Territory, load_units
from tests.fixtures.report_pages import assert_funnel_adds_up, funnel_rows, number

AS_OF = date(2021, 3, 1)
AMAZONAS, MOQUEGUA = "010101", "180101"
VALUES = './/text[@class="value"]'


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
    for name, value in fate.items():
        setattr(h, name, value)
    return h


def operation_results() -> Results:
    """Every fate a household can meet, a few of each; six paid in Moquegua."""
    households: list[Household] = []
    n = 0

    def add(count: int, outcome: str, ubigeo: str = AMAZONAS, **fate: object) -> None:
        nonlocal n
        for _ in range(count):
            households.append(household(n, outcome, ubigeo, **fate))
            n += 1

    for k, reason in enumerate(DROPOUTS):
        add(k + 1, reason)
    affiliated = {"consent_id": "c", "lines": 1}
    add(2, "account-partner-invalid-input", priority="low", **affiliated)
    add(1, "account-opened", cci="1" * 20, t1="rejected", priority="high", **affiliated)
    paid = {"cci": "1" * 20, "t1": "paid", **affiliated}
    add(7, "account-opened", compliant=True, priority="low", t2="paid", **paid)
    add(4, "account-opened", MOQUEGUA, missing=("rotavirus-2", "iron-drops"), priority="very-high",
        **paid)  # fmt: skip
    add(2, "account-opened", MOQUEGUA, missing=("iron-drops",), priority="medium", **paid)
    results = Results(as_of=AS_OF, period="2021-02", households=households)
    results.payments = {
        "T1": {
            "payees": 14,
            "paid": 13,
            "rejected": 1,
            "booked": 13,
            "second_debits": 0,
            "amount": str(Decimal(200) * 13),
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


def page(tmp_path: Path, locale: str | None = None) -> HtmlElement:
    results = operation_results()
    kwargs = {} if locale is None else {"locale": locale}
    path = write_html(results, tmp_path / f"report-{locale}.html", **kwargs)
    return lxml.html.fromstring(path.read_text(encoding="utf-8"))


def test_spanish_by_default_with_labels_percentages_and_soles(tmp_path: Path) -> None:
    doc = page(tmp_path)
    text = doc.text_content()
    assert doc.get("lang") == "es"
    assert doc.findtext(".//h1").startswith("Operación DU 095-2020")
    headings = [h.text_content() for h in doc.iter("h2")]
    assert "Embudo de afiliación" in headings
    assert "Semáforo por unidad territorial" in headings
    assert "Resultados publicados y esta ejecución" in headings
    # Human labels, never the code names.
    for code in (*DROPOUTS, "account-partner-invalid-input", "very-high", "rotavirus-2"):
        assert code not in text
    rows = assert_funnel_adds_up(doc)
    drops = {label.lstrip("− "): (n, share) for kind, label, n, share in rows if kind == "drop"}
    # 1 of the 61 newborns.
    assert drops["Distrito con menos de 15 % de pobreza monetaria"] == (1, "1.6 %")
    assert drops["Rechazó el acuerdo de compromiso"][0] == 9
    # The deceased caregivers the bank refuses are counted with their reason.
    assert drops["Cuidadora registrada como fallecida: el banco rechaza la cuenta"][0] == 2
    assert drops["Transferencia rechazada por el banco"][0] == 1
    assert all(re.fullmatch(r"\d+\.\d %", share) for _, _, _, share in rows)
    # Money in soles with thousands separators (es_PE): 13 + 7 transfers of S/ 200.
    assert "Total transferido" in text
    totals = [td.text_content() for td in doc.xpath('//td[@class="total"]')]
    assert totals == ["S/\xa04,000.00"]
    assert "S/\xa02,600.00" in text
    assert "S/\xa0132,521,000.00" in text  # the published total
    assert "PEN" not in text
    # The window and cap of newborns read.
    window = doc.xpath('//p[@class="window"]')[0].text_content()
    assert "14 de noviembre de 2020" in window
    assert "28 de febrero de 2021" in window
    assert "tope de 2,000" in window


def test_every_bar_has_its_value_written(tmp_path: Path) -> None:
    doc = page(tmp_path)
    charts = doc.xpath('//svg[@class="chart"]')
    assert len(charts) == 4  # funnel, payments, items, semáforo
    funnel = charts[0]
    values = [t.text_content() for t in funnel.xpath(VALUES)]
    assert len(funnel.xpath(".//rect")) == len(values) == 6
    stage_counts = [n for kind, _, n, _ in funnel_rows(doc) if kind == "stage"]
    assert [number(v) for v in values] == stage_counts
    assert all("%" in v for v in values)
    payments = [t.text_content() for t in charts[1].xpath(VALUES)]
    assert payments == ["S/\xa02,600.00", "S/\xa01,400.00"]
    # Stacked bars: each part wide enough carries its count; every row its total.
    items = [t.text_content() for t in charts[2].xpath(VALUES)]
    assert items == ["10", "4", "14", "8", "6", "14"]


def test_semaforo_by_territorial_unit(tmp_path: Path) -> None:
    doc = page(tmp_path)
    table = doc.xpath('//table[@class="semaforo"]')[0]
    rows = {
        tr[0].text_content(): [c.text_content() for c in tr[1:]] for tr in table.xpath("./tbody/tr")
    }
    # Moquegua has no programme office: its children are Arequipa's work.
    assert set(rows) == {"Unidad Territorial Arequipa", "Unidad Territorial Amazonas"}
    arequipa = rows["Unidad Territorial Arequipa"]
    assert arequipa[0] == "4 (66.7 %)"  # very high
    assert arequipa[2] == "2 (33.3 %)"  # medium
    assert arequipa[4:] == ["6", "6", "6"]  # children, to follow up, to remind
    amazonas = rows["Unidad Territorial Amazonas"]
    assert amazonas[4:] == ["10", "1", "1"]
    foot = [c.text_content() for c in table.xpath("./tfoot//td")]
    assert foot[-3:] == ["16", "7", "7"]


def test_published_figures_beside_the_run(tmp_path: Path) -> None:
    doc = page(tmp_path)
    rows = [
        [c.text_content() for c in tr] for tr in doc.xpath('//table[@class="published"]/tbody/tr')
    ]
    by_label = {r[0]: r for r in rows}
    affiliated = by_label["Hogares afiliados"]
    assert affiliated[1] == f"{PUBLISHED['households_affiliated']:,}"
    assert affiliated[2] == "16"
    assert affiliated[3] == "-442,602 (-100.0 %)"
    assert affiliated[4]  # an explanation
    compliant = by_label["Hogares que cumplen (porcentaje de los pagados)"]
    assert compliant[1:4] == ["50 %", "53.8 % (7)", "+3.8 puntos"]
    assert by_label["Tarjetas de débito entregadas"][2] == "—"
    assert all(r[4] for r in rows)
    # The scale of the run, said once: 40 eligible of the decree's 442,618.
    assert "son el 0.009 % de la meta del decreto" in doc.text_content()


def test_english_on_request(tmp_path: Path) -> None:
    doc = page(tmp_path, "en")
    text = doc.text_content()
    assert doc.get("lang") == "en"
    assert "Affiliation funnel" in [h.text_content() for h in doc.iter("h2")]
    assert "Caregiver registered as deceased: the bank refuses the account" in text
    assert "cap of 2,000 children" in text
    assert "November 14, 2020" in text
    assert [td.text_content() for td in doc.xpath('//td[@class="total"]')] == ["S/\xa04,000.00"]
    assert "PEN" not in text
    assert "Embudo" not in text
    assert_funnel_adds_up(doc)


@pytest.mark.parametrize("locale", ["es", "en"])
def test_the_page_holds_no_personal_data(tmp_path: Path, locale: str) -> None:
    results = operation_results()
    text = write_html(results, tmp_path / "r.html", locale=locale).read_text(encoding="utf-8")
    for h in results.households:
        assert h.cui not in text
        assert h.mother_dni not in text
        assert h.mother_names not in text
    assert "<script" not in text


def test_run_figures_follow_the_funnel() -> None:
    results = operation_results()
    figures = run_figures(results)
    stages = funnel_stages(results)
    assert figures["eligible"] == stages[1].count
    assert figures["households_affiliated"] == stages[3].count == 16
    assert figures["transferred_soles"] == 4_000
    assert figures["districts_covered"] == 2
    assert figures["very_high_priority_children"] == 4


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
