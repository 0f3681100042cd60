"""Ubigeo codings and the district table (field cases 14 and 17).

INEI and RENIEC number many districts differently: Callao is 070101 at INEI and 240101
at RENIEC, and 240101 is Tumbes at INEI. A feed declares the coding its partner uses in
the field's name (RENIEC pushes births with ``ubigeo_reniec``); the gateway converts
each code to INEI (``ubigeo_inei``) with the district table and refuses a code the
table does not know in the declared coding. The real table (``ubigeo_distrito.csv``)
loads: ``NA`` poverty is unknown (not eligible), and errors name the physical line.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from adapters.sandbox.population import Population
from adapters.sandbox.registers import write_registers
from gateway.app import create_app
from gateway.clients.service import create_client
from gateway.core.db import transaction
from gateway.districts import (
    BUNDLED,
    DistrictFileError,
    DistrictTable,
    UnknownUbigeo,
    load_districts,
    load_table,
)
from gateway.identifiers import IdentifierError
from gateway.settings import Settings
from program.client import GatewayClient
from program.demo import QuietProgress
from program.operation import Household, Operation
from program.registers import FileRegisters
from tests.fixtures.gateway import bearer
from tests.fixtures.partners import Mocks, purpose

pytestmark = pytest.mark.partner_mocks

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ubigeo_distrito.csv"
needs_real_table = pytest.mark.skipif(not REAL.exists(), reason=f"{REAL} is not there")
HEADER = (
    "inei,reniec,departamento,provincia,distrito,region,macroregion_inei,macroregion_minsa,"
    "iso_3166_2,fips,capital,superficie,pob_densidad_2020,altitude,latitude,longitude,"
    "indice_vulnerabilidad_alimentaria,idh_2019,pct_pobreza_total,pct_pobreza_extrema"
)
CALLAO = "070101,240101,CALLAO,CALLAO,CALLAO,CALLAO,C,L,PE-CAL,07,Callao,45,9,7,-12,-77,0,0,9.5,0"
TUMBES = "240101,230101,TUMBES,TUMBES,TUMBES,TUMBES,N,N,PE-TUM,24,Tumbes,158,7,7,-3,-80,0,0,12.3,1"
NDJSON = {"Content-Type": "application/x-ndjson"}


def table_file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "ubigeo.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


# -- the table ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "coding", "inei"),
    [
        ("960501", "reniec", "960101"),  # a synthetic district's RENIEC code
        ("960101", "inei", "960101"),
        ("900501", "reniec", "900101"),
    ],
)
def test_bundled_table_converts_both_codings_to_inei(code: str, coding: str, inei: str) -> None:
    assert load_table().to_inei(code, coding) == inei  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "coding"),
    [("960101", "reniec"), ("960501", "inei"), ("999999", "inei"), ("000000", "reniec")],
)
def test_a_code_unknown_in_the_declared_coding_is_refused(code: str, coding: str) -> None:
    with pytest.raises(UnknownUbigeo, match=f"in the {coding.upper()} coding"):
        load_table().to_inei(code, coding)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["96050", "9605011", "٩٦٠٥٠١", "９６０５０１", None, 960501])
def test_a_malformed_code_is_refused_before_the_table_is_asked(code: object) -> None:
    with pytest.raises(IdentifierError, match="6-digit"):
        load_table().to_inei(code, "reniec")


def test_callao_and_tumbes_are_told_apart_by_the_coding(tmp_path: Path) -> None:
    table = DistrictTable(load_districts(table_file(tmp_path, CALLAO, TUMBES)))
    assert table.to_inei("240101", "reniec") == "070101"  # RENIEC's Callao
    assert table.to_inei("240101", "inei") == "240101"  # INEI's Tumbes
    assert table.to_inei("230101", "reniec") == "240101"
    with pytest.raises(UnknownUbigeo):
        table.to_inei("070101", "reniec")


def test_a_place_name_gives_its_inei_code_only_when_one_district_has_it(
    tmp_path: Path,
) -> None:
    """RENIEC answers a person's district as names (``place_name``); the gateway offers
    the district's INEI code as ``ubigeo`` only when the names say which district."""
    jesus_maria = "150113,140113,LIMA,LIMA,JESÚS MARÍA,LIMA,C,L,PE-LIM,15,x,4,1,1,-12,-77,0,0,5,0"
    twin = "159901,149901,LIMA,LIMA,SAN PEDRO,LIMA,C,L,PE-LIM,15,x,4,1,1,-12,-77,0,0,5,0"
    twin_again = "159902,149902,LIMA,LIMA,SAN PEDRO,LIMA,C,L,PE-LIM,15,x,4,1,1,-12,-77,0,0,5,0"
    table = load_table(table_file(tmp_path, CALLAO, jesus_maria, twin, twin_again))
    assert table.inei_of_place("CALLAO/CALLAO/CALLAO") == "070101"  # INEI's, not RENIEC's
    assert table.inei_of_place("Lima / Lima / Jesus Maria") == "150113"
    assert table.inei_of_place("LIMA/LIMA/SAN PEDRO") is None  # two districts: no code
    assert table.inei_of_place("PIURA/PIURA/CASTILLA") is None  # not in the table
    assert table.inei_of_place("") is None


def test_na_poverty_is_unknown_and_not_eligible(tmp_path: Path) -> None:
    new_district = "250306,250207,UCAYALI,PADRE ABAD,HUIPOCA,UCAYALI,O,O,PE-UCA,25," + ",".join(
        ["NA"] * 10
    )
    only_reniec = "NA,170107,MOQUEGUA,MARISCAL NIETO,SAN ANTONIO,MOQUEGUA,S,S,PE-MOQ,18," + (
        ",".join(["NA"] * 10)
    )
    districts = load_districts(table_file(tmp_path, CALLAO, new_district, only_reniec))
    assert [(d.inei, d.reniec, d.poverty_pct, d.eligible) for d in districts] == [
        ("070101", "240101", 9.5, False),
        ("250306", "250207", None, False),
        (None, "170107", None, False),
    ]
    table = DistrictTable(districts)
    with pytest.raises(UnknownUbigeo):  # known to RENIEC, but with no INEI code
        table.to_inei("170107", "reniec")
    population = Population(districts, size=500)
    assert {population.household(i).district.inei for i in range(500)} <= {"070101", "250306"}


def test_the_programme_counts_districts_of_unknown_poverty_apart(tmp_path: Path) -> None:
    eligible = CALLAO.replace("070101,240101,", "080601,080601,").replace(",9.5,", ",33.1,")
    unknown = "250306,250207,UCAYALI,PADRE ABAD,HUIPOCA,U,O,O,PE-UCA,25," + ",".join(["NA"] * 10)
    path = table_file(tmp_path, CALLAO, eligible, unknown)
    population = Population(load_districts(path), size=100)
    registers = FileRegisters.read(write_registers(population, tmp_path / "registers").directory)
    operation = Operation(
        GatewayClient("http://127.0.0.1:9", {}),
        registers,
        QuietProgress(echo=False),
        as_of=date(2021, 3, 1),
        seed=1,
    )
    for ubigeo in ("070101", "250306", "080601", "999999"):
        operation.results.households.append(
            Household(
                cui="39774981",
                mother_dni="81681805",  # not the sandbox population's: no payroll job
                mother_names="X",
                ubigeo=ubigeo,
                birth_date=date(2020, 6, 1),
                alive=True,
                in_juntos=False,
            )
        )
    operation.eligibility()
    assert [h.outcome for h in operation.results.households] == [
        "district-poverty-below-15",
        "district-poverty-unknown",
        "eligible",
        "district-poverty-unknown",  # a district the table does not know
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([CALLAO, "080601,080601,CUSCO,CANCHIS,SICUANI,C,S,S,PE-CUS,08,Sicuani,1,1,1,1,1,1,1,x,1"],
         ":3: pct_pobreza_total is not a number nor NA"),
        ([CALLAO, '080601,080601,CUSCO,CANCHIS,SICUANI,C,S,S,PE-CUS,08,"S\ni",1,1,1,1,1,1,1,5,1',
          "080602,0806X2,CUSCO,CANCHIS,X,C,S,S,PE-CUS,08,X,1,1,1,1,1,1,1,5,1"],
         ":5: reniec is not a 6-digit ubigeo nor NA"),
        ([CALLAO, CALLAO.replace("070101,240101", "070102,240101")],
         ":3: reniec code repeats line 2"),
        ([CALLAO, "NA,NA,LIMA,LIMA,X,L,L,L,PE-LMA,15,X,1,1,1,1,1,1,1,5,1"],
         ":3: neither an INEI nor a RENIEC code"),
        ([CALLAO.replace(",9.5,", ",109.5,")], ":2: pct_pobreza_total is not a percentage"),
        ([CALLAO, "", "", "080601,080601,CUSCO,CANCHIS,SICUANI"],
         ":5: 5 fields where the header has 20"),
    ],
)  # fmt: skip
def test_loader_errors_name_the_physical_line(
    tmp_path: Path, rows: list[str], message: str
) -> None:
    path = table_file(tmp_path, *rows)
    with pytest.raises(DistrictFileError) as refused:
        load_districts(path)
    assert str(refused.value) == f"{path}{message}"


def test_the_bundled_table_has_both_codings_for_every_district() -> None:
    districts = load_districts(BUNDLED)
    assert all(d.inei and d.reniec and d.poverty_pct is not None for d in districts)


@needs_real_table
def test_the_real_table_loads_and_converts_callao(tmp_path: Path) -> None:
    districts = load_districts(REAL)
    assert len(districts) == 1893
    unknown = [d for d in districts if d.poverty_pct is None]
    assert len(unknown) == 19
    assert not any(d.eligible for d in unknown)
    table = DistrictTable(districts)
    assert table.to_inei("240101", "reniec") == "070101"  # Callao
    assert table.find("240101", "inei") is not None
    assert table.find("240101", "inei").name == "TUMBES"  # type: ignore[union-attr]
    assert table.to_inei("010418", "reniec") == "010519"  # the record spanning two lines
    with pytest.raises(UnknownUbigeo):
        table.to_inei("170107", "reniec")  # San Antonio (Moquegua) has no INEI code
    eligible = sum(d.eligible for d in districts)
    assert 1500 < eligible < 1700  # DU 095-2020 reached 1,594 districts at 15% or more
    population = Population(districts, size=5_000)
    registers = FileRegisters.read(write_registers(population, tmp_path / "registers").directory)
    households = [population.household(i) for i in range(0, 5_000, 7)]
    assert all(h.district.inei is not None for h in households)
    assert registers.poverty_pct("250306") is None  # Huipoca: NA in the poverty map
    assert registers.poverty_pct("070101") == pytest.approx(
        next(d.poverty_pct for d in districts if d.inei == "070101")
    )


# -- the births feed ----------------------------------------------------------------


async def push_and_pull(
    http: httpx.AsyncClient, app: FastAPI, rows: list[dict[str, str]]
) -> tuple[dict[str, object], list[dict[str, object]]]:  # noqa: E501
    state = app.state.gateway
    tokens = {}
    for role in ("partner", "consumer"):
        async with transaction(state.sessions) as session:
            issued = await create_client(
                session, state.catalog, f"conformance-{role}", [role], ["affiliation"], actor=None
            )
        answer = await http.post(
            "/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": issued.client.id,
                "client_secret": issued.secret,
            },
        )
        tokens[role] = bearer(answer.json()["access_token"]) | purpose("affiliation")
    created = await http.post(
        "/v1/subscriptions", json={"feed": "births", "mode": "pull"}, headers=tokens["consumer"]
    )
    assert created.status_code == 201, created.text
    pushed = await http.post(
        "/v1/inbound/reniec/births",
        content="".join(json.dumps(r) + "\n" for r in rows).encode(),
        headers=tokens["partner"] | NDJSON | {"X-Message-Id": "conformance-births-1"},
    )
    assert pushed.status_code == 201, pushed.text
    pulled = await http.get(
        f"/v1/subscriptions/{created.json()['id']}/deliveries", headers=tokens["consumer"]
    )
    deliveries = pulled.json()["deliveries"]
    delivered = [row for d in deliveries for row in d["rows"]]
    return pushed.json()["data"], delivered


def birth(n: int, **changes: str) -> dict[str, str]:
    row = {"cui": f"{39774981 + n:08d}", "cnv": f"{1000000000 + n}", "birth_date": "2020-06-01",
           "sex": "F", "ubigeo_reniec": "960501", "mother_dni": "60542601"}  # fmt: skip
    row.update(changes)
    return {k: v for k, v in row.items() if v != "-"}


async def test_births_carry_reniec_codes_and_are_delivered_with_inei_codes(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks
) -> None:
    receipt, delivered = await push_and_pull(
        http,
        app,
        [
            birth(0),
            birth(1, ubigeo_reniec="960101"),  # an INEI code where RENIEC's is declared
            birth(2, ubigeo_reniec="960501".translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))),
            birth(3, ubigeo_reniec="-", ubigeo="960501"),  # the coding left unsaid
            birth(4, ubigeo_reniec="900501"),
        ],
    )
    assert receipt["rows_accepted"] == 2
    assert [
        (r["row"], [e["field"] for e in r["errors"]])
        for r in receipt["rejections"]  # type: ignore[attr-defined]
    ] == [
        (2, ["ubigeo_reniec"]),
        (3, ["ubigeo_reniec"]),
        (4, ["ubigeo_reniec", "ubigeo"]),  # required, and the key sent is not a field
    ]
    assert [(r["cui"], r["ubigeo_inei"]) for r in delivered] == [
        ("39774981", "960101"),
        ("39774985", "900101"),
    ]
    assert all("ubigeo_reniec" not in r and "ubigeo" not in r for r in delivered)


@pytest.fixture
async def real_table_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    if not REAL.exists():
        pytest.skip(f"{REAL} is not there")
    application = create_app(settings.model_copy(update={"ubigeo_file": REAL}))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            yield application, c


async def test_births_from_callao_reach_subscribers_as_callao(
    real_table_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, http = real_table_app
    receipt, delivered = await push_and_pull(
        http,
        app,
        [
            birth(0, ubigeo_reniec="240101"),  # Callao at RENIEC
            birth(1, ubigeo_reniec="230101"),  # Tumbes at RENIEC
            birth(2, ubigeo_reniec="170107"),  # no INEI code: refused
            birth(3, ubigeo_reniec="250207"),  # Huipoca: NA poverty, still a district
        ],
    )
    assert receipt["rows_accepted"] == 3
    assert [r["ubigeo_inei"] for r in delivered] == ["070101", "240101", "250306"]


async def test_newborn_queries_take_inei_codes_known_to_the_table(
    http: httpx.AsyncClient, consumer: dict[str, str]
) -> None:
    window = {"born_from": "2020-05-01", "born_to": "2020-05-31"}
    headers = consumer | purpose("affiliation")
    known = await http.get("/v1/newborns", params=window | {"ubigeo": "960101"}, headers=headers)
    assert known.status_code == 200, known.text
    assert {r["ubigeo"] for r in known.json()["data"]} <= {"960101"}
    for unknown in ("960501", "999999"):
        refused = await http.get(
            "/v1/newborns", params=window | {"ubigeo": unknown}, headers=headers
        )
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["query.ubigeo[0]"]
