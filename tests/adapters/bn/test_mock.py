"""Banco de la Nación mock: accounts, ISO 20022 payments, duplicate protection."""

from __future__ import annotations

import pathlib
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
import sepaxml
import xmlschema

from adapters.bn.cci import cci_for, is_valid_cci
from adapters.bn.iso20022 import (
    CreditTransfer,
    InvalidMessageError,
    PaymentBatch,
    build_pain001,
    parse_camt054,
    parse_pain001,
    parse_pain002,
)
from adapters.bn.mock import create_app
from adapters.sandbox.population import Household
from adapters.sandbox.settings import SandboxSettings
from gateway.settings import REPO_ROOT
from tests.fixtures.support import Contract

CONTRACT = Contract(REPO_ROOT / "contracts" / "bn" / "openapi.yaml")
KEY = {"X-Api-Key": "bn-sandbox-juntos"}
OFFICIAL_PAIN001 = xmlschema.XMLSchema(
    str(pathlib.Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.09.xsd")
)


def living_mothers(sandbox: SandboxSettings, n: int) -> list[Household]:
    pop = sandbox.population
    return [
        h
        for h in (pop.household(i) for i in range(200))
        if not h.mother.deceased and not h.holds_cuenta_dni
    ][:n]


async def open_account(http: httpx.AsyncClient, h: Household, request_id: str) -> httpx.Response:
    return await http.post(
        "/cuentas/v1/aperturas",
        json={
            "tipoDocumento": "DNI",
            "numeroDocumento": h.mother.dni,
            "digitoVerificacion": h.mother.check_digit,
        },
        headers=KEY | {"X-Request-Id": request_id},
    )


def batch(msg_id: str, transfers: list[CreditTransfer], debtor: str) -> PaymentBatch:
    return PaymentBatch(
        msg_id=msg_id,
        created_at=datetime(2020, 12, 15, 9, 0, tzinfo=UTC),
        initiating_party="PROGRAMA JUNTOS",
        payment_info_id=f"{msg_id}-1",
        requested_date=date(2020, 12, 15),
        debtor_name="PROGRAMA JUNTOS",
        debtor_account=debtor,
        transfers=tuple(transfers),
    )


@pytest.fixture
def bank(sandbox: SandboxSettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sandbox)), base_url="http://b"
    )


async def test_account_opening_is_idempotent_and_validated(
    sandbox: SandboxSettings, bank: httpx.AsyncClient
) -> None:
    h = living_mothers(sandbox, 1)[0]
    async with bank as http:
        first = await open_account(http, h, "req-1")
        assert first.status_code == 201
        CONTRACT.check("/cuentas/v1/aperturas", first)
        account = first.json()
        assert is_valid_cci(account["cci"])
        assert account["cci"].startswith("018")
        assert h.mother.dni not in account["numeroCuenta"]

        again = await open_account(http, h, "req-1")
        assert (again.status_code, again.content) == (201, first.content)  # byte for byte
        other_request = await open_account(http, h, "req-2")
        assert (other_request.status_code, other_request.json()) == (200, account)

        modified = await http.post(
            "/cuentas/v1/aperturas",
            json={"tipoDocumento": "DNI", "numeroDocumento": "11111111"},
            headers=KEY | {"X-Request-Id": "req-1"},
        )
        assert modified.status_code == 409
        CONTRACT.check("/cuentas/v1/aperturas", modified)

        wrong_check = await http.post(
            "/cuentas/v1/aperturas",
            json={
                "tipoDocumento": "DNI",
                "numeroDocumento": h.mother.dni,
                "digitoVerificacion": str((int(h.mother.check_digit) + 1) % 10),
            },
            headers=KEY | {"X-Request-Id": "req-3"},
        )
        assert wrong_check.status_code == 422
        assert wrong_check.json()["campo"] == "digitoVerificacion"

        pop = sandbox.population
        dead = next(pop.household(i) for i in range(pop.size) if pop.household(i).mother.deceased)
        refused = await open_account(http, dead, "req-4")
        assert refused.status_code == 422
        assert refused.json()["codigo"] == "TITULAR_FALLECIDO"
        CONTRACT.check("/cuentas/v1/aperturas", refused)

        fetched = await http.get(f"/cuentas/v1/cuentas/{h.mother.dni}", headers=KEY)
        CONTRACT.check("/cuentas/v1/cuentas/{dni}", fetched)
        assert fetched.json() == account
        missing = await http.get(f"/cuentas/v1/cuentas/{dead.mother.dni}", headers=KEY)
        assert missing.status_code == 404
        CONTRACT.check("/cuentas/v1/cuentas/{dni}", missing)


async def test_payments_never_pay_twice(sandbox: SandboxSettings, bank: httpx.AsyncClient) -> None:
    mothers = living_mothers(sandbox, 3)
    async with bank as http:
        ccis = [(await open_account(http, h, f"r{k}")).json()["cci"] for k, h in enumerate(mothers)]
        transfers = [
            CreditTransfer(f"DU095-{k:06d}", Decimal("200.00"), h.mother.full_name, cci)
            for k, (h, cci) in enumerate(zip(mothers, ccis, strict=True))
        ]
        transfers.append(
            CreditTransfer("DU095-999999", Decimal("200.00"), "X", "01810100000000000000")
        )
        # A holder's account number under another office: a valid CCI, no such account.
        elsewhere = cci_for(f"{(int(ccis[0][3:6]) + 1) % 1000:06d}", ccis[0][6:18])
        transfers.append(CreditTransfer("DU095-888888", Decimal("200.00"), "X", elsewhere))
        document = build_pain001(batch("JUNTOS-20201215-1", transfers, sandbox.bn_debtor_account))
        OFFICIAL_PAIN001.validate(document.decode())  # the published ISO schema
        assert parse_pain001(document).transfers == tuple(transfers)

        first = await http.post("/pagos/v1/lotes", content=document, headers=KEY)
        CONTRACT.check("/pagos/v1/lotes", first)
        report = parse_pain002(first.content)
        assert report.original_msg_id == "JUNTOS-20201215-1"
        assert report.group_status == "PART"
        by_id = {t.end_to_end_id: (t.status, t.reason) for t in report.transactions()}
        assert by_id == {
            "DU095-000000": ("ACSC", None),
            "DU095-000001": ("ACSC", None),
            "DU095-000002": ("ACSC", None),
            "DU095-999999": ("RJCT", "AC01"),
            "DU095-888888": ("RJCT", "AC01"),
        }

        resend = await http.post("/pagos/v1/lotes", content=document, headers=KEY)
        assert resend.status_code == 200
        assert resend.content == first.content

        changed = build_pain001(
            batch("JUNTOS-20201215-1", transfers[:2], sandbox.bn_debtor_account)
        )
        modified = await http.post("/pagos/v1/lotes", content=changed, headers=KEY)
        assert modified.status_code == 409
        refusal = parse_pain002(modified.content)
        assert (refusal.group_status, refusal.group_reason) == ("RJCT", "DU01")

        again = build_pain001(batch("JUNTOS-20201215-2", transfers[:1], sandbox.bn_debtor_account))
        duplicate = parse_pain002(
            (await http.post("/pagos/v1/lotes", content=again, headers=KEY)).content
        )
        assert [(t.status, t.reason) for t in duplicate.transactions()] == [("RJCT", "AM05")]

        status = await http.get("/pagos/v1/lotes/JUNTOS-20201215-1", headers=KEY)
        assert status.content == first.content
        notes = await http.get("/pagos/v1/notificaciones", headers=KEY)
        notification = parse_camt054(notes.content)
        assert sorted(e.end_to_end_id for e in notification.entries) == [
            "DU095-000000",
            "DU095-000001",
            "DU095-000002",
        ]
        assert {e.credit_debit for e in notification.entries} == {"DBIT"}
        assert sum(e.amount for e in notification.entries) == Decimal("600.00")
        mine = await http.get(
            "/pagos/v1/notificaciones", params={"lotes": "JUNTOS-20201215-2,NONE"}, headers=KEY
        )
        assert mine.status_code == 200
        assert parse_camt054(mine.content).entries == ()  # its one transfer was refused
        first_only = await http.get(
            "/pagos/v1/notificaciones", params={"lotes": "JUNTOS-20201215-1"}, headers=KEY
        )
        assert len(parse_camt054(first_only.content).entries) == 3


async def test_invalid_and_hostile_documents_are_refused(bank: httpx.AsyncClient) -> None:
    async with bank as http:
        for body in (
            b"not xml",
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]><d>&e;</d>',
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">'
            b"<CstmrCdtTrfInitn/></Document>",
        ):
            response = await http.post("/pagos/v1/lotes", content=body, headers=KEY)
            assert response.status_code == 400
            CONTRACT.check("/pagos/v1/lotes", response)
            assert response.json()["codigo"] == "FF01"


def test_parsers_reject_inconsistent_totals() -> None:
    good = batch("M1", [CreditTransfer("E1", Decimal("200"), "A", "01810144808993231265")], "1")
    document = build_pain001(good).replace(b"<NbOfTxs>1</NbOfTxs>", b"<NbOfTxs>2</NbOfTxs>", 1)
    with pytest.raises(InvalidMessageError, match="NbOfTxs"):
        parse_pain001(document)


async def test_mass_opening_answers_each_holder_once(
    sandbox: SandboxSettings, bank: httpx.AsyncClient
) -> None:
    path = "/cuentas/v1/aperturas/lotes"
    living = living_mothers(sandbox, 2)
    pop = sandbox.population
    dead = next(pop.household(i) for i in range(pop.size) if pop.household(i).mother.deceased)
    body = {
        "aperturas": [
            {"tipoDocumento": "DNI", "numeroDocumento": h.mother.dni}
            for h in (*living, dead, living[0])
        ]
    }
    async with bank as http:
        first = await http.post(path, json=body, headers=KEY | {"X-Request-Id": "lote-1"})
        assert first.status_code == 200, first.text
        CONTRACT.check(path, first)
        results = first.json()["resultados"]
        assert [r["estadoApertura"] for r in results] == [201, 201, 422, 200]
        assert results[2]["error"]["codigo"] == "TITULAR_FALLECIDO"
        assert results[3]["cuenta"] == results[0]["cuenta"]  # one account per holder
        single = await http.get(f"/cuentas/v1/cuentas/{living[1].mother.dni}", headers=KEY)
        assert single.json() == results[1]["cuenta"]

        again = await http.post(path, json=body, headers=KEY | {"X-Request-Id": "lote-1"})
        assert again.content == first.content  # the first answer, byte for byte
        modified = await http.post(
            path,
            json={"aperturas": body["aperturas"][:1]},
            headers=KEY | {"X-Request-Id": "lote-1"},
        )
        assert modified.status_code == 409
        CONTRACT.check(path, modified)
        empty = await http.post(
            path, json={"aperturas": []}, headers=KEY | {"X-Request-Id": "lote-2"}
        )
        assert empty.status_code == 400
        CONTRACT.check(path, empty)
