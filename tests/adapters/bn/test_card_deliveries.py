"""Cuentas DNI already held, and the card-delivery extract: the bank mock over HTTP (ASGI)
and the adapter reading it, with the stand-in layout of ``contracts/bn/card-deliveries.md``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from adapters.bn.client import BankAdapter
from adapters.bn.deliveries import ExtractError, read_extract, write_extract
from adapters.bn.mock import create_app
from adapters.bn.settings import BankSettings
from adapters.sandbox.population import Household
from adapters.sandbox.settings import SandboxSettings
from gateway.partners.models import Account, CardDelivery
from tests.fixtures.transport import guard

KEY = {"X-Api-Key": "bn-sandbox-juntos"}
TODAY = datetime.now(UTC).date()


def living_mothers(sandbox: SandboxSettings, n: int) -> list[Household]:
    pop = sandbox.population
    found = (pop.household(i) for i in range(pop.size))
    return [h for h in found if not h.mother.deceased][:n]


async def mass_open(http: httpx.AsyncClient, mothers: list[Household], request_id: str) -> list:
    answer = await http.post(
        "/cuentas/v1/aperturas/lotes",
        json={
            "aperturas": [
                {"tipoDocumento": "DNI", "numeroDocumento": h.mother.dni} for h in mothers
            ]
        },
        headers=KEY | {"X-Request-Id": request_id},
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["resultados"])


@pytest.fixture
def bank(sandbox: SandboxSettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sandbox)), base_url="http://b"
    )


async def test_a_caregiver_who_holds_a_cuenta_dni_gets_it_back_not_a_second_one(
    sandbox: SandboxSettings, bank: httpx.AsyncClient
) -> None:
    mothers = living_mothers(sandbox, 400)
    holders = [h for h in mothers if h.holds_cuenta_dni]
    assert holders  # both kinds in the sample
    assert len(holders) < len(mothers)
    async with bank as http:
        # The bank knows the existing account before any opening.
        known = await http.get(f"/cuentas/v1/cuentas/{holders[0].mother.dni}", headers=KEY)
        assert known.status_code == 200
        results = await mass_open(http, mothers, "lote-1")
        for h, result in zip(mothers, results, strict=True):
            assert result["estadoApertura"] == (200 if h.holds_cuenta_dni else 201)
        existing = results[mothers.index(holders[0])]["cuenta"]
        assert existing == known.json()  # the same account, opened before the operation
        assert existing["fechaApertura"] < TODAY.isoformat()
        # Asking again (another request) opens nothing new for anybody.
        again = await mass_open(http, mothers, "lote-2")
        assert {r["estadoApertura"] for r in again} == {200}
        assert [r["cuenta"]["cci"] for r in again] == [r["cuenta"]["cci"] for r in results]


async def test_the_extract_lists_the_cards_of_new_accounts_collected(
    sandbox: SandboxSettings, bank: httpx.AsyncClient
) -> None:
    mothers = living_mothers(sandbox, 300)
    collected = {h.mother.dni for h in mothers if h.card_pickup and not h.holds_cuenta_dni}
    assert 0 < len(collected) < len(mothers)
    async with bank as http:
        await mass_open(http, mothers, "lote-1")
        window = {
            "fechaDesde": (TODAY - timedelta(days=1)).isoformat(),
            "fechaHasta": TODAY.isoformat(),
        }
        rows: list[CardDelivery] = []
        offset: str | None = "0"
        while offset is not None:
            part = await http.get(
                "/cuentas/v1/tarjetas/entregas",
                params=window | {"desde": offset, "cantidad": "25"},
                headers=KEY,
            )
            assert part.status_code == 200
            assert part.headers["content-type"].startswith("text/csv")
            got = read_extract(part.text)
            assert len(got) <= 25
            rows += got
            offset = part.headers.get("X-Siguiente")
        assert len(rows) > 25  # it came in parts
        assert {r.dni for r in rows} == collected
        assert len(rows) == len(collected)  # each card once
        assert rows == sorted(rows, key=lambda r: (r.delivered_on, r.account_number))
        # Outside the window, nothing.
        old = await http.get(
            "/cuentas/v1/tarjetas/entregas",
            params={"fechaDesde": "2020-01-01", "fechaHasta": "2020-12-31"},
            headers=KEY,
        )
        assert read_extract(old.text) == []
        assert "X-Siguiente" not in old.headers


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"fechaHasta": "2021-01-31"}, "fechaDesde"),
        ({"fechaDesde": "2021-01-01", "fechaHasta": "31/01/2021"}, "fechaHasta"),
        ({"fechaDesde": "2021-01-01", "fechaHasta": "2021-01-31", "cantidad": "0"}, "cantidad"),
        ({"fechaDesde": "2021-01-01", "fechaHasta": "2021-01-31", "desde": "-1"}, "desde"),
    ],
)
async def test_a_bad_extract_request_names_the_parameter(
    bank: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    async with bank as http:
        answer = await http.get("/cuentas/v1/tarjetas/entregas", params=params, headers=KEY)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["campo"] == field


async def test_the_adapter_reads_the_extract_part_by_part(
    sandbox: SandboxSettings, bank: httpx.AsyncClient
) -> None:
    mothers = living_mothers(sandbox, 300)
    settings = BankSettings(base_url="http://b")
    async with bank as http:
        adapter = BankAdapter(settings, http, guard("bn", settings))
        opened = await adapter.open_accounts([(h.mother.dni, None) for h in mothers], "lote-1")
        new = {a.dni for a in opened if isinstance(a, Account) and a.newly_opened}
        cards: list[CardDelivery] = []
        cursor: str | None = None
        while True:
            page = await adapter.card_deliveries(TODAY - timedelta(days=1), TODAY, cursor, 40)
            cards += page.items
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert cards
    assert {c.dni for c in cards} <= new  # only accounts opened now carry a new card
    assert {c.dni for c in cards} == {h.mother.dni for h in mothers if h.card_pickup} & new
    assert all(c.delivered_on == TODAY for c in cards)


def test_the_layout_round_trips_and_errors_name_line_and_column_not_value() -> None:
    rows = [CardDelivery("45123456", "412345678901", date(2021, 1, 14))]
    assert read_extract(write_extract(rows)) == rows
    text = write_extract(rows).replace("45123456", "4512345X")
    with pytest.raises(ExtractError) as raised:
        read_extract(text)
    assert str(raised.value) == "line 2: numeroDocumento is not 8 digits"
    with pytest.raises(ExtractError, match="line 1: the header"):
        read_extract("dni,cuenta,fecha\n")
