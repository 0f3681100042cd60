"""One parser per identifier kind (field cases 5 and 5b).

Every spelling of one DNI reaches one canonical number, and so one audit pseudonym; a
number written with digits that are not ASCII (Arabic-Indic ``٦٠٥٤٢٦٠١``, full-width
``６０５４２６０１``) is refused by every endpoint that takes an identifier, with a 422
naming the field, instead of being pseudonymised into a different person whom the
disclosure report would never find.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.pe import cui as stdnum_cui

from adapters.bn.cci import account_for, cci_for
from adapters.reniec.client import _newborn
from adapters.reniec.mock import padron_row
from gateway import identifiers
from gateway.identifiers import IdentifierError
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.partners import Grant, Mocks, consent_body, purpose

pytestmark = pytest.mark.partner_mocks

# The sandbox household of the field cases (default population, seed 2020).
MOTHER = "60542601"
CHILD = "39774981"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
FOREIGN = {"arabic-indic": ARABIC_INDIC, "full-width": FULL_WIDTH}
# Other Unicode decimal digits Python's \d and str.isdigit accept.
OTHER_DIGITS = "".join(
    chr(c) for c in range(0x80, 0x10000) if chr(c).isdecimal() and not chr(c).isascii()
)


# -- the parsers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "number", "check_digit"),
    [
        ("60542601", "60542601", None),
        ("60542601-3", "60542601", "3"),
        ("605426013", "60542601", "3"),
        ("60542601-H", "60542601", None),
        ("60542601-h", "60542601", None),
        ("60542601H", "60542601", None),
        (" 60542601-3 ", "60542601", "3"),
        ("00123456", "00123456", None),
    ],
)
def test_every_spelling_of_a_dni_parses_to_its_number(
    spelling: str, number: str, check_digit: str | None
) -> None:
    assert identifiers.parse_document(spelling) == (number, check_digit)
    assert identifiers.parse_dni(spelling) == identifiers.parse_cui(spelling) == number


@pytest.mark.parametrize(
    ("spelling", "message"),
    [
        ("60542601-4", "the check character does not match the number"),
        ("60542601-A", "the check character does not match the number"),
        ("6054260", "expected 8 digits"),
        ("605426011-3", "expected 8 digits"),
        ("60542601--3", "expected 8 digits"),
        ("60542601-L", "expected 8 digits"),
        ("60542601".translate(ARABIC_INDIC), "expected 8 digits"),
        ("60542601".translate(FULL_WIDTH), "expected 8 digits"),
        ("6054260" + "١", "expected 8 digits"),
        ("60542601-" + "٣", "expected 8 digits"),
        ("", "expected 8 digits"),
    ],
)
def test_a_dni_that_is_not_one_is_refused_without_repeating_it(spelling: str, message: str) -> None:
    with pytest.raises(IdentifierError) as refused:
        identifiers.parse_document(spelling)
    assert str(refused.value).startswith(message)
    assert "6054260" not in str(refused.value)


@given(st.integers(0, 99_999_999))
def test_both_forms_of_the_check_character_agree_with_stdnum(n: int) -> None:
    number = f"{n:08d}"
    digit, letter = stdnum_cui.calc_check_digits(number)
    for spelling in (number, f"{number}-{digit}", f"{number}{digit}", f"{number}-{letter}"):
        assert identifiers.parse_document(spelling).number == number
    assert identifiers.parse_document(f"{number}-{letter.lower()}").number == number
    wrong = str((int(digit) + 1) % 10)
    with pytest.raises(IdentifierError):
        identifiers.parse_document(f"{number}-{wrong}")


@given(st.text(alphabet="0123456789", min_size=8, max_size=8), st.data())
def test_any_non_ascii_digit_is_refused_by_every_parser(number: str, data: Any) -> None:
    position = data.draw(st.integers(0, 3))  # inside every slice below
    foreign = data.draw(st.sampled_from(OTHER_DIGITS))
    spelling = number[:position] + foreign + number[position + 1 :]
    for parser, value in (
        (identifiers.parse_document, spelling),
        (identifiers.parse_ubigeo, spelling[:6]),
        (identifiers.parse_phone, "9" + spelling),
        (identifiers.parse_ruc, "20" + spelling + "5"),
        (identifiers.parse_cci, "018" + spelling + "123456789"),
        (identifiers.parse_period, spelling[:4] + "-01"),
    ):
        with pytest.raises(IdentifierError):
            parser(value)


def test_ruc_type_prefix_and_check_digit_are_verified() -> None:
    assert identifiers.parse_ruc("20131312955") == "20131312955"  # SUNAT's own RUC
    assert identifiers.parse_ruc("20900000015") == "20900000015"  # the sandbox entity
    for wrong in ("20131312956", "30131312955", "2013131295", "20131312955 ", "2013131295X"):
        with pytest.raises(IdentifierError):
            identifiers.parse_ruc(wrong)
    with pytest.raises(IdentifierError):
        identifiers.parse_ruc("20131312955".translate(FULL_WIDTH))


def test_cci_check_digits_are_verified() -> None:
    cci = cci_for("960101", account_for(MOTHER))
    assert identifiers.parse_cci(cci) == cci
    assert identifiers.parse_cci("0" * 20) == "0" * 20
    for position in (0, 5, 6, 17, 18, 19):
        changed = cci[:position] + str((int(cci[position]) + 1) % 10) + cci[position + 1 :]
        with pytest.raises(IdentifierError, match="check digits"):
            identifiers.parse_cci(changed)
    for malformed in (cci[:19], cci + "0", cci.translate(ARABIC_INDIC), None, int(cci)):
        with pytest.raises(IdentifierError, match="20-digit"):
            identifiers.parse_cci(malformed)


def test_phone_ubigeo_and_period() -> None:
    assert identifiers.parse_phone("987654321") == "987654321"
    assert identifiers.parse_ubigeo("070101") == "070101"
    assert identifiers.parse_period("2021-02") == (2021, 2)
    for parser, wrong in (
        (identifiers.parse_phone, "887654321"),
        (identifiers.parse_phone, "98765432"),
        (identifiers.parse_phone, "987654321\n"),
        (identifiers.parse_ubigeo, "70101"),
        (identifiers.parse_ubigeo, "070101\n"),
        (identifiers.parse_period, "2021-13"),
        (identifiers.parse_period, "202102"),
        (identifiers.parse_period, "2021-02\n"),
        (identifiers.parse_period, "0000-01"),  # no year 0: date arithmetic fails
        (identifiers.parse_period, "9999-12"),  # its next month is past the calendar
        (identifiers.parse_period, "1899-12"),
    ):
        with pytest.raises(IdentifierError):
            parser(wrong)


def test_a_date_is_text_written_year_month_day_only() -> None:
    """What Python 3.11's ``date.fromisoformat`` also takes (a compact date, an ISO week
    date, a number) is refused: every contract here writes dates YYYY-MM-DD."""
    assert identifiers.parse_date("2021-02-10") == date(2021, 2, 10)
    for wrong in ("20210210", "2021-W06-3", 20210210, "2021-02-10\n", "١٢٣٤-٠٢-١٠"):
        with pytest.raises(IdentifierError, match="expected a date YYYY-MM-DD"):
            identifiers.parse_date(wrong)
    # The right form, a day February does not have: told apart.
    with pytest.raises(IdentifierError, match="not a day of the calendar"):
        identifiers.parse_date("2021-02-30")


# -- every endpoint that takes an identifier -----------------------------------------


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("digits", sorted(FOREIGN))
async def test_every_endpoint_refuses_non_ascii_digits_naming_the_field(
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    get_token: GetToken,
    digits: str,
) -> None:
    h = mocks.population.lookup(MOTHER)
    assert h is not None
    dni = MOTHER.translate(FOREIGN[digits])
    cui = CHILD.translate(FOREIGN[digits])
    affiliation = consumer | purpose("affiliation")
    contact = consumer | purpose("contact")
    payment = consumer | purpose("payment", **{"Idempotency-Key": "conformance-0001"})
    verification = consumer | purpose("coresponsibility-verification")
    auditor = bearer(await get_token(["auditor"], ["audit"])) | purpose("audit")
    good = consent_body(h.household)
    calls: list[tuple[str, str, dict[str, str], dict[str, Any], str]] = [
        ("GET", f"/v1/persons/{dni}", affiliation, {}, "path.dni"),
        ("POST", "/v1/identity-verifications", affiliation, {"json": {"dni": dni}}, "body.dni"),
        ("GET", f"/v1/persons/{dni}/phone-lines", contact, {}, "path.dni"),
        ("POST", "/v1/phone-line-lookups", contact, {"json": {"dnis": [MOTHER, dni]}},
         "body.dnis[1]"),
        ("POST", "/v1/accounts", payment, {"json": {"dni": dni}}, "body.dni"),
        ("GET", f"/v1/accounts/{dni}", payment, {}, "path.dni"),
        ("POST", "/v1/account-openings", payment, {"json": {"holders": [{"dni": dni}]}},
         "body.holders[0].dni"),
        ("GET", f"/v1/children/{cui}/health-services", verification, {}, "path.cui"),
        ("GET", f"/v1/children/{cui}/coresponsibility", verification,
         {"params": {"period": "2021-01"}}, "path.cui"),
        ("GET", f"/v1/children/{CHILD}/coresponsibility", verification,
         {"params": {"period": "2021-01".translate(FOREIGN[digits])}}, "query.period"),
        ("POST", "/v1/coresponsibility-verdicts", verification,
         {"json": {"period": "2021-01", "cuis": [cui]}}, "body.cuis[0]"),
        ("POST", "/v1/coresponsibility-verdicts", verification,
         {"json": {"period": "2021-01".translate(FOREIGN[digits]), "cuis": [CHILD]}},
         "body.period"),
        ("POST", "/v1/consents", affiliation, {"json": good | {"cui": cui}}, "body.cui"),
        ("POST", "/v1/consents", affiliation, {"json": good | {"caregiver_dni": dni}},
         "body.caregiver_dni"),
        ("POST", "/v1/consent-batches", affiliation | {"Idempotency-Key": "conformance-0002"},
         {"json": {"consents": [good, good | {"caregiver_dni": dni}]}},
         "body.consents[1].caregiver_dni"),
        ("GET", "/v1/consents", affiliation, {"params": {"cui": cui}}, "query.cui"),
        ("GET", "/v1/consent-checks", affiliation,
         {"params": {"cui": cui, "purpose": "payment"}}, "query.cui"),
        ("GET", "/v1/audit/events", auditor, {"params": {"subject": dni}}, "query.subject"),
        ("GET", "/v1/audit/events/export", auditor, {"params": {"subject": dni}},
         "query.subject"),
        ("GET", f"/v1/subjects/{dni}/disclosures", auditor, {}, "path.dni"),
        ("GET", "/v1/newborns", affiliation,
         {"params": {"born_from": "2020-05-01", "born_to": "2020-05-31",
                     "ubigeo": "960101".translate(FOREIGN[digits])}},
         "query.ubigeo[0]"),
    ]  # fmt: skip
    for method, path, headers, kwargs, field in calls:
        response = await http.request(method, path, headers=headers, **kwargs)
        assert _fields(response) == [field], (method, path)
        assert dni not in response.text
        assert cui not in response.text
    assert mocks.bank.accounts == {}


@pytest.mark.parametrize("period", ["0000-01", "9999-12"])
async def test_a_period_outside_the_calendar_is_refused_naming_it(
    http: httpx.AsyncClient, consumer: dict[str, str], period: str
) -> None:
    """Found by the fuzzing suite: year 0 gave a 500 from the verdicts' date arithmetic."""
    verification = consumer | purpose("coresponsibility-verification")
    batch = await http.post(
        "/v1/coresponsibility-verdicts",
        headers=verification,
        json={"cuis": [CHILD], "period": period},
    )
    assert _fields(batch) == ["body.period"]
    single = await http.get(
        f"/v1/children/{CHILD}/coresponsibility", headers=verification, params={"period": period}
    )
    assert _fields(single) == ["query.period"]


@pytest.mark.parametrize("written", ["1612915200", "2021-02-10T00:00:00Z", "20210210", "2021-2-10"])
async def test_a_date_a_request_gives_is_written_year_month_day(
    http: httpx.AsyncClient, consumer: dict[str, str], get_token: GetToken, written: str
) -> None:
    """A Unix time and a datetime at midnight (which pydantic's own dates take), a compact
    date and a short month are refused, in a query and in a body, naming the field, as
    the pushed feeds and the command line refuse them."""
    newborns = await http.get(
        "/v1/newborns",
        headers=consumer | purpose("affiliation"),
        params={"born_from": written, "born_to": "2021-02-28"},
    )
    assert _fields(newborns) == ["query.born_from"]
    assert newborns.json()["errors"][0]["message"] == "expected a date YYYY-MM-DD"
    admin = bearer(await get_token(["admin"]))
    run = await http.post(
        "/v1/exchanges/reniec-newborns/runs",
        headers=admin,
        json={"born_from": written, "born_to": "2021-02-28"},
    )
    assert _fields(run) == ["body.born_from"]
    roll = await http.post(
        "/v1/payment-runs",
        headers=consumer | purpose("payment"),
        json={"run_ref": "CONFORMANCE-DATE", "requested_date": written, "transfers": [{}]},
    )
    assert _fields(roll) == ["body.requested_date"]


async def test_a_payment_roll_refuses_non_ascii_digits_and_bad_check_digits(
    http: httpx.AsyncClient, mocks: Mocks, consumer: dict[str, str], consented: Grant
) -> None:
    found = mocks.population.lookup(MOTHER)
    assert found is not None
    h = found.household
    await consented(h)
    cci = cci_for(h.district.inei_code, account_for(MOTHER))
    bad_cci = cci[:19] + str((int(cci[19]) + 1) % 10)

    def transfer(n: int, **changes: str) -> dict[str, Any]:
        base = {"end_to_end_id": f"CONF-{n}", "dni": MOTHER, "cci": cci, "amount": "200.00",
                "name": "BENEFICIARIA"}  # fmt: skip
        return base | changes

    transfers = [
        transfer(1, dni=MOTHER.translate(ARABIC_INDIC)),
        transfer(2, dni=MOTHER.translate(FULL_WIDTH)),
        transfer(3, dni=MOTHER + "-4"),
        transfer(4, cci=cci.translate(FULL_WIDTH)),
        transfer(5, cci=bad_cci),
        transfer(6, dni=MOTHER + "-H"),
    ]
    created = await http.post(
        "/v1/payment-runs",
        headers=consumer | purpose("payment"),
        json={
            "run_ref": "CONFORMANCE-1",
            "requested_date": (date.today() + timedelta(days=1)).isoformat(),
            "transfers": transfers,
        },
    )
    assert created.status_code == 201, created.text
    run = created.json()["data"]
    rejected = run["reconciliation"]["rejected_at_intake"]
    assert [(r["row"], r["field"]) for r in rejected] == [
        (1, "dni"),
        (2, "dni"),
        (3, "dni"),
        (4, "cci"),
        (5, "cci"),
    ]
    assert run["items"] == 1  # the check letter is the same DNI
    assert MOTHER not in created.text


async def test_the_audit_pseudonym_is_of_the_canonical_form(
    http: httpx.AsyncClient, consumer: dict[str, str], get_token: GetToken
) -> None:
    affiliation = consumer | purpose("affiliation")
    for spelling in ("60542601-3", "605426013", "60542601-H", "60542601-h", "60542601H"):
        found = await http.get(f"/v1/persons/{spelling}", headers=affiliation)
        assert found.status_code == 200, found.text
    for foreign in FOREIGN.values():
        refused = await http.get(f"/v1/persons/{MOTHER.translate(foreign)}", headers=affiliation)
        assert refused.status_code == 422

    auditor = bearer(await get_token(["auditor"], ["audit"])) | purpose("audit")
    report = await http.get(f"/v1/subjects/{MOTHER}/disclosures", headers=auditor)
    assert report.status_code == 200, report.text
    assert [r["service"] for r in report.json()["data"]] == ["reniec.person"] * 5
    events = await http.get(
        "/v1/audit/events", params={"subject": MOTHER + "-H", "service": "reniec.person"},
        headers=auditor,
    )  # fmt: skip
    assert events.status_code == 200, events.text
    outcomes = [e["outcome"] for e in events.json()["data"]]
    assert len(outcomes) == 5  # the refused spellings name nobody


@pytest.mark.parametrize("digits", sorted(FOREIGN))
async def test_pushed_rows_with_non_ascii_digits_are_refused_by_field(
    http: httpx.AsyncClient, get_token: GetToken, digits: str
) -> None:
    foreign = FOREIGN[digits]
    feeds: list[tuple[str, str, dict[str, str], list[str]]] = [
        ("reniec/births", "affiliation",
         {"cui": CHILD, "cnv": "1000000001", "birth_date": "2020-06-01", "sex": "F",
          "ubigeo_reniec": "960501", "mother_dni": MOTHER},
         ["cui", "cnv", "ubigeo_reniec", "mother_dni"]),
        ("minsa-his/health-records", "coresponsibility-verification",
         {"cui": CHILD, "appointment_id": "A-1", "service_date": "2020-08-01",
          "item_code": "90681", "facility": "00001234", "lab_value": "1"},
         ["cui"]),
        ("osiptel/line-changes", "contact",
         {"dni": MOTHER, "number": "987654321", "operator": "MOVISTAR",
          "change": "activated", "effective_date": "2020-08-01"},
         ["dni", "number"]),
    ]  # fmt: skip
    for n, (feed, purpose_name, good, identifiers_of_feed) in enumerate(feeds):
        rows = [good] + [good | {f: good[f].translate(foreign)} for f in identifiers_of_feed]
        partner = bearer(await get_token(["partner"], [purpose_name]))
        pushed = await http.post(
            f"/v1/inbound/{feed}",
            content="".join(json.dumps(r) + "\n" for r in rows).encode(),
            headers=partner
            | purpose(purpose_name)
            | {"Content-Type": "application/x-ndjson", "X-Message-Id": f"conf-{digits}-{n}"},
        )
        assert pushed.status_code == 201, pushed.text
        receipt = pushed.json()["data"]
        assert receipt["rows_accepted"] == 1, feed
        assert [[e["field"] for e in r["errors"]] for r in receipt["rejections"]] == [
            [f] for f in identifiers_of_feed
        ], feed
        assert MOTHER.translate(foreign) not in pushed.text


def test_a_padron_row_with_non_ascii_digits_is_malformed_not_someone_else(
    mocks: Mocks,
) -> None:
    pop = mocks.population
    index = next(pop.newborns(date(2020, 5, 1), date(2020, 5, 31)))
    row = padron_row(pop, index)
    newborn = _newborn(row)
    assert (newborn.cui, newborn.mother_dni) == (row["nuCui"], row["nuDniMadre"])
    for name in ("nuCui", "nuDniMadre", "coUbigeoInei"):
        for foreign in FOREIGN.values():
            with pytest.raises(ValueError, match="expected"):
                _newborn(row | {name: str(row[name]).translate(foreign)})
