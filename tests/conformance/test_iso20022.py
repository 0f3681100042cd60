"""ISO 20022 as banks send it: pain.002 (001.03, 001.10) and camt.054 (001.02, 001.08).

Field cases 9, 10 and 11 of ``../shared/field-cases`` with their right values, and their
neighbours, through the real push endpoints and the payment run path (gateway and bank
mock over real HTTP, real database).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from gateway.core.db import transaction
from gateway.partners.ports import Bank
from gateway.payments.models import PaymentChunk, PaymentItem, PaymentRun
from tests.fixtures.gateway import GetToken, bearer
from tests.fixtures.partners import Grant, Mocks, purpose
from tests.fixtures.payments import payees, roll, transfer

pytestmark = pytest.mark.partner_mocks

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "field-cases"
XML = {"Content-Type": "application/xml"}


def case(name: str) -> bytes:
    path = CASES / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path.read_bytes()


@pytest.fixture
async def bank(get_token: GetToken) -> dict[str, str]:
    """The bank's credentials for the push endpoints."""
    return bearer(await get_token(["partner"], ["payment"])) | purpose("payment")


async def push(
    http: httpx.AsyncClient, bank: dict[str, str], kind: str, body: bytes, msg: str
) -> httpx.Response:
    path = {"pain.002": "payment-status", "camt.054": "settlements"}[kind]
    return await http.post(
        f"/v1/inbound/bn/{path}", content=body, headers=bank | XML | {"X-Message-Id": msg}
    )


def settlements(app: FastAPI, body: bytes) -> list[tuple[str, str, str | None]]:
    return [
        (s.end_to_end_id, s.amount, s.msg_id)
        for s in app.state.gateway.partners.get(Bank).read_settlements(body)
    ]


async def waiting_run(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
    ref: str,
    n: int,
) -> tuple[str, str, list[str]]:
    """A run whose pain.001 was built and sent while the bank did not answer: its
    transfers wait for a status. (run id, pain.001 MsgId, EndToEndIds)."""
    people = await payees(http, mocks, consumer, consented, n)
    transfers = [
        transfer(k, h, a) | {"end_to_end_id": f"{ref}-{k:04d}"} for k, (h, a) in enumerate(people)
    ]
    created = await http.post(
        "/v1/payment-runs", json=roll(ref, transfers), headers=consumer | purpose("payment")
    )
    assert created.status_code == 201, created.text
    run_id = created.json()["data"]["id"]
    await mocks.faults("bn", error_rate=1.0)
    state = app.state.gateway
    assert await state.jobs.work_available() == 1
    await mocks.faults("bn", error_rate=0.0)
    async with transaction(state.sessions) as session:
        msg_id = (
            await session.execute(select(PaymentChunk.msg_id).where(PaymentChunk.run_id == run_id))
        ).scalar_one()
        statuses = set(
            (
                await session.execute(
                    select(PaymentItem.status).where(PaymentItem.run_id == run_id)
                )
            ).scalars()
        )
    assert statuses == {"submitted"}
    assert mocks.bank.ledger == {}
    return run_id, msg_id, [t["end_to_end_id"] for t in transfers]


async def run_view(http: httpx.AsyncClient, consumer: dict[str, str], run_id: str) -> Any:
    answer = await http.get(f"/v1/payment-runs/{run_id}", headers=consumer | purpose("payment"))
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


async def item_states(app: FastAPI, run_id: str) -> dict[str, tuple[str, str | None]]:
    async with transaction(app.state.gateway.sessions) as session:
        rows = await session.execute(
            select(PaymentItem.end_to_end_id, PaymentItem.status, PaymentItem.reason).where(
                PaymentItem.run_id == run_id
            )
        )
        return {e2e: (status, reason) for e2e, status, reason in rows.all()}


# ------------------------------------------------------------------------- camt.054


@pytest.mark.parametrize(
    "name", ["09-camt054-v08-batch-full.xml", "09-camt054-v08-batch-subset.xml"]
)
async def test_a_batch_booking_yields_each_transfer_with_its_own_amount(
    app: FastAPI, http: httpx.AsyncClient, bank: dict[str, str], name: str
) -> None:
    body = case(name)
    assert settlements(app, body) == [
        (f"FC-E2E-000{k}", "200.00", "FC-PAIN001-0001") for k in (1, 2, 3)
    ]
    pushed = await push(http, bank, "camt.054", body, f"FC9-{name[-8:-4]}")
    assert pushed.status_code == 201, pushed.text
    assert (pushed.json()["data"]["rows_accepted"], pushed.json()["data"]["rows_rejected"]) == (
        3,
        0,
    )


CAMT054_V02 = b"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>FC-CAMT-V02</MsgId><CreDtTm>2021-03-01T12:30:00</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>N-V02-1</Id><CreDtTm>2021-03-01T12:30:00</CreDtTm>
      <Acct><Id><Othr><Id>00000000000000000001</Id></Othr></Id></Acct>
      <Ntry>
        <Amt Ccy="PEN">350.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2021-03-01</Dt></BookgDt>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <TxDtls><Refs><MsgId>M-V02</MsgId><EndToEndId>V02-E2E-1</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="PEN">200.00</Amt></TxAmt></AmtDtls></TxDtls>
          <TxDtls><Refs><MsgId>M-V02</MsgId><EndToEndId>V02-E2E-2</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="PEN">150.00</Amt></TxAmt></AmtDtls></TxDtls>
        </NtryDtls>
      </Ntry>
    </Ntfctn>
    <Ntfctn>
      <Id>N-V02-2</Id><CreDtTm>2021-03-02T12:30:00</CreDtTm>
      <Acct><Id><Othr><Id>00000000000000000001</Id></Othr></Id></Acct>
      <Ntry>
        <Amt Ccy="PEN">120.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2021-03-02</Dt></BookgDt>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls><Refs><EndToEndId>V02-E2E-3</EndToEndId></Refs></TxDtls></NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="PEN">90.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>PDNG</Sts>
        <BookgDt><Dt>2021-03-02</Dt></BookgDt>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls><Refs><EndToEndId>V02-E2E-4</EndToEndId></Refs></TxDtls></NtryDtls>
      </Ntry>
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
"""


async def test_camt054_v02_rows_across_notifications_and_entries(
    app: FastAPI, http: httpx.AsyncClient, bank: dict[str, str]
) -> None:
    # Each TxDtls with its AmtDtls/TxAmt; a lone TxDtls takes its entry's amount; a
    # pending entry is not a booked debit.
    assert settlements(app, CAMT054_V02) == [
        ("V02-E2E-1", "200.00", "M-V02"),
        ("V02-E2E-2", "150.00", "M-V02"),
        ("V02-E2E-3", "120.00", None),
    ]
    pushed = await push(http, bank, "camt.054", CAMT054_V02, "FC9-V02")
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["data"]["rows_accepted"] == 3


async def test_a_batch_entry_whose_transactions_lack_their_amount_is_refused(
    http: httpx.AsyncClient, bank: dict[str, str]
) -> None:
    body = CAMT054_V02.replace(
        b'<AmtDtls><TxAmt><Amt Ccy="PEN">150.00</Amt></TxAmt></AmtDtls>', b""
    )
    refused = await push(http, bank, "camt.054", body, "FC9-V02-NOAMT")
    assert refused.status_code == 422
    message = refused.json()["errors"][0]["message"]
    assert "TxDtls (line 15)" in message
    assert "amount" in message


# ------------------------------------------------------------------------- pain.002


@pytest.mark.parametrize(
    "name", ["11-pain002-v03.xml", "11-pain002-v10-full.xml", "11-pain002-v10-minimal.xml"]
)
async def test_status_reports_of_both_versions_are_accepted(
    app: FastAPI, http: httpx.AsyncClient, bank: dict[str, str], name: str
) -> None:
    body = case(name)
    report = app.state.gateway.partners.get(Bank).read_payment_report(body)
    assert [(t.end_to_end_id, t.status, t.reason) for t in report.transactions] == [
        ("FC8-E2E-0001", "ACSC", None),
        ("FC8-E2E-0002", "RJCT", "AC04"),
    ]
    pushed = await push(http, bank, "pain.002", body, f"FC11-{name[13:-4]}")
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["data"]["rows_accepted"] == 2


async def test_a_group_reject_rejects_every_transfer_of_the_message(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
    bank: dict[str, str],
) -> None:
    run_id, msg_id, e2es = await waiting_run(app, http, mocks, consumer, consented, "FC10", 3)
    body = case("10-pain002-group-reject.xml").replace(
        b"REPLACE-WITH-THE-RUN-PAIN001-MSGID", msg_id.encode()
    )
    pushed = await push(http, bank, "pain.002", body, "FC10-1")
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["data"]["rows_accepted"] == 3
    assert await item_states(app, run_id) == {e2e: ("rejected", "FF01") for e2e in e2es}
    view = await run_view(http, consumer, run_id)
    assert (view["rejected"], view["rejected_by_reason"], view["pending"]) == (3, {"FF01": 3}, 0)


async def test_a_payment_information_status_covers_its_transactions_without_one(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
    bank: dict[str, str],
) -> None:
    run_id, msg_id, e2es = await waiting_run(app, http, mocks, consumer, consented, "FCPI", 3)
    # pain.002.001.03: the block is rejected (AM04); the first transfer has its own
    # ACSC, the second is listed without a status, the third is not listed.
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>STS-PI-0001</MsgId><CreDtTm>2021-03-01T11:00:04</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>{msg_id}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>
      <GrpSts>PART</GrpSts>
    </OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>{msg_id}-1</OrgnlPmtInfId>
      <PmtInfSts>RJCT</PmtInfSts>
      <StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf>
      <TxInfAndSts><OrgnlEndToEndId>{e2es[0]}</OrgnlEndToEndId><TxSts>ACSC</TxSts></TxInfAndSts>
      <TxInfAndSts><OrgnlEndToEndId>{e2es[1]}</OrgnlEndToEndId></TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>""".encode()
    pushed = await push(http, bank, "pain.002", body, "FCPI-1")
    assert pushed.status_code == 201, pushed.text
    assert await item_states(app, run_id) == {
        e2es[0]: ("paid", None),
        e2es[1]: ("rejected", "AM04"),
        e2es[2]: ("rejected", "AM04"),
    }


async def test_a_group_acsc_settles_every_transfer_of_the_message(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
    bank: dict[str, str],
) -> None:
    run_id, msg_id, e2es = await waiting_run(app, http, mocks, consumer, consented, "FCOK", 2)
    body = (
        case("10-pain002-group-reject.xml")
        .replace(b"REPLACE-WITH-THE-RUN-PAIN001-MSGID", msg_id.encode())
        .replace(b"<GrpSts>RJCT</GrpSts>", b"<GrpSts>ACSC</GrpSts>")
    )
    pushed = await push(http, bank, "pain.002", body, "FCOK-1")
    assert pushed.status_code == 201, pushed.text
    assert await item_states(app, run_id) == {e2e: ("paid", None) for e2e in e2es}
    # A report for a message the gateway never sent touches nothing.
    other = body.replace(msg_id.encode(), b"JNOTOURS000000000000").replace(b"ACSC", b"RJCT")
    ignored = await push(http, bank, "pain.002", other, "FCOK-2")
    assert ignored.status_code == 201
    assert ignored.json()["data"]["rows_accepted"] == 0
    assert await item_states(app, run_id) == {e2e: ("paid", None) for e2e in e2es}


@pytest.mark.parametrize(
    ("detail", "funds", "expected"),
    [
        ("group", None, ("paid", None)),
        ("group", 0, ("rejected", "AM04")),
        ("payment-info", 0, ("rejected", "AM04")),
        ("payment-info", None, ("paid", None)),
    ],
)
async def test_the_synchronous_answer_applies_group_and_block_statuses(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
    detail: str,
    funds: int | None,
    expected: tuple[str, str | None],
) -> None:
    people = await payees(http, mocks, consumer, consented, 2)
    transfers = [transfer(k, h, a) for k, (h, a) in enumerate(people)]
    mocks.bank.status_detail = detail  # the bank reports only at that level
    if funds is not None:
        mocks.bank.balance = Decimal(funds)
    created = await http.post(
        "/v1/payment-runs", json=roll("SYNC", transfers), headers=consumer | purpose("payment")
    )
    run_id = created.json()["data"]["id"]
    assert await app.state.gateway.jobs.work_available() == 1
    assert await item_states(app, run_id) == {t["end_to_end_id"]: expected for t in transfers}
    view = await run_view(http, consumer, run_id)
    assert (view["state"], view["pending"]) == ("done", 0)


# ------------------------------------------------------------------------- refusals


async def test_a_refusal_names_element_line_and_rule_never_the_value(
    http: httpx.AsyncClient, bank: dict[str, str]
) -> None:
    v03 = case("11-pain002-v03.xml")
    # A structural error (an element the official schema does not allow there).
    unknown = v03.replace(b"<TxSts>ACSC</TxSts>", b"<TxSts>ACSC</TxSts><Sexo>F</Sexo>")
    refused = await push(http, bank, "pain.002", unknown, "FC11-BAD-1")
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["errors"][0]["field"] == "body"
    message = problem["errors"][0]["message"]
    assert "pain.002.001.03 invalid at Sexo (line 21)" in message
    assert "not expected" in message
    # A value error: the facet is named, the value (a DNI here) is not.
    value = v03.replace(
        b"<OrgnlNbOfTxs>2</OrgnlNbOfTxs>", b"<OrgnlNbOfTxs>60542601X</OrgnlNbOfTxs>"
    )
    refused = await push(http, bank, "pain.002", value, "FC11-BAD-2")
    assert refused.status_code == 422
    message = refused.json()["errors"][0]["message"]
    assert "OrgnlNbOfTxs (line 11)" in message
    assert "pattern" in message
    assert "60542601" not in refused.text
    # camt.054.001.08: an amount that is not one, on its own line.
    camt = case("09-camt054-v08-batch-full.xml").replace(b">200.00<", b">2OO.00<", 1)
    refused = await push(http, bank, "camt.054", camt, "FC9-BAD")
    assert refused.status_code == 422
    message = refused.json()["errors"][0]["message"]
    assert "camt.054.001.08 invalid at Amt (line 23)" in message
    assert "2OO" not in refused.text


async def test_a_document_with_a_dtd_keeps_its_own_refusal(
    http: httpx.AsyncClient, bank: dict[str, str]
) -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">&x;</Document>'
    )
    for kind in ("pain.002", "camt.054"):
        refused = await push(http, bank, kind, xxe, f"XXE-{kind}")
        assert refused.status_code == 422
        message = refused.json()["errors"][0]["message"]
        assert "DOCTYPE or entity declaration is refused" in message
        assert "root:" not in refused.text


async def test_a_refused_document_is_told_in_the_readers_language(
    http: httpx.AsyncClient, bank: dict[str, str]
) -> None:
    """The sentence is the catalog's; what libxml2 itself said stays in its words."""
    spanish = bank | {"Accept-Language": "es-PE"}
    cases = [
        (
            b'<?xml version="1.0"?><!DOCTYPE Document><Document/>',
            "no es un documento pain.002 válido: "
            "se rechaza un XML con declaración DOCTYPE o de entidades",
        ),
        (
            b'<?xml version="1.0"?>\n<Document xmlns="urn:x"><a></Document>',
            "no es un documento pain.002 válido: XML mal formado en la línea 2, columna 39: "
            "Opening and ending tag mismatch: a line 2 and Document",
        ),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>',
            "no es un documento pain.002 válido: "
            "se esperaba un Document de pain.002.001.03, pain.002.001.10",
        ),
    ]
    for n, (body, expected) in enumerate(cases):
        refused = await push(http, spanish, "pain.002", body, f"ES-{n}")
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["message"] == expected
    v03 = case("11-pain002-v03.xml")
    unknown = v03.replace(b"<TxSts>ACSC</TxSts>", b"<TxSts>ACSC</TxSts><Sexo>F</Sexo>")
    refused = await push(http, spanish, "pain.002", unknown, "ES-SCHEMA")
    message = refused.json()["errors"][0]["message"]
    assert message.startswith(
        "no es un documento pain.002 válido: pain.002.001.03 no válido en Sexo (línea 21): "
    )


# ------------------------------------------------------------------------- reconciliation


async def test_reconciliation_flags_a_booked_amount_that_differs(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    people = await payees(http, mocks, consumer, consented, 2)
    transfers = [transfer(k, h, a) for k, (h, a) in enumerate(people)]
    created = await http.post(
        "/v1/payment-runs", json=roll("AMT", transfers), headers=consumer | purpose("payment")
    )
    run_id = created.json()["data"]["id"]
    state = app.state.gateway
    assert await state.jobs.work_available() == 1
    first = await run_view(http, consumer, run_id)
    assert first["reconciliation"]["amount_mismatches"] == []
    # The bank books one of them for another amount; the run is reconciled again.
    e2e = transfers[1]["end_to_end_id"]
    mocks.bank.ledger[e2e].amount = Decimal("20.00")
    async with transaction(state.sessions) as session:
        await session.execute(
            update(PaymentRun)
            .where(PaymentRun.run_id == run_id)
            .values(state="queued", lease_expires_at=None)
        )
    assert await state.jobs.work_available() == 1
    again = await run_view(http, consumer, run_id)
    assert again["reconciliation"]["amount_mismatches"] == [e2e]
    assert (again["paid"], again["reconciliation"]["booked"]) == (2, 2)
