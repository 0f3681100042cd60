"""A run request's birth-date window is checked before anything is queued, by the API
(naming the body's field) and by the command line (naming the option) alike."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from gateway.cli import app as cli
from gateway.core.db import transaction
from gateway.exchanges.service import ExchangeService
from gateway.settings import Settings
from gateway.state import AppState
from tests.fixtures.cli import env_for, runner
from tests.fixtures.gateway import GetToken, bearer

RUNS = "/v1/exchanges/reniec-newborns/runs"


async def _queued(app: FastAPI) -> int:
    state: AppState = app.state.gateway
    async with transaction(state.sessions) as session:
        return len(await state.get(ExchangeService).recent(session, "reniec-newborns"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"born_from": "2021-02-01", "born_to": "2021-01-01"}, "must not be before born_from"),
        ({"born_from": "2019-01-01", "born_to": "2021-01-01"}, "at most 366 days"),
        ({"born_from": "2019-01-01"}, "(today when absent) may span at most 366 days"),
    ],
)
async def test_the_api_names_the_body_field(
    app: FastAPI, http: httpx.AsyncClient, get_token: GetToken, body: dict[str, str], message: str
) -> None:
    token = await get_token(["admin"])
    refused = await http.post(RUNS, json=body, headers=bearer(token))
    assert refused.status_code == 422
    (error,) = refused.json()["errors"]
    assert error["field"] == "body.born_to"
    assert message in error["message"]
    assert await _queued(app) == 0


@pytest.mark.parametrize(
    ("language", "said"),
    [
        (
            "en_US.UTF-8",
            [
                "--born-to must not be before --born-from",
                "--born-from and --born-to may be at most 366 days apart",
                "--born-to must not be in the future",
            ],
        ),
        (
            "es_PE.UTF-8",
            [
                "--born-to no debe ser anterior a --born-from",
                "--born-from y --born-to pueden estar a lo sumo a 366 días de distancia",
                "--born-to no debe estar en el futuro",
            ],
        ),
    ],
)
def test_the_command_line_refuses_the_same_windows_in_its_own_words(
    settings: Settings, language: str, said: list[str]
) -> None:
    """The API's window rules, said with the options' names (not the API's fields)."""
    env = env_for(settings) | {"LANG": language}
    windows = [
        ["--born-from", "2021-02-01", "--born-to", "2021-01-01"],
        ["--born-from", "2019-01-01", "--born-to", "2021-01-01"],
        ["--born-from", "2999-01-01", "--born-to", "2999-01-02"],
    ]
    for args, message in zip(windows, said, strict=True):
        refused = runner.invoke(cli, ["exchanges", "run", "reniec-newborns", *args], env=env)
        assert refused.exit_code == 1, refused.output
        assert message in refused.output
        assert "born_" not in refused.output


def test_the_command_line_names_the_option_of_a_bad_date_or_district(
    settings: Settings,
) -> None:
    env = env_for(settings) | {"LANG": "es_PE.UTF-8"}
    base = ["exchanges", "run", "reniec-newborns"]
    for args, said in [
        (
            ["--born-from", "2021-02-01", "--born-to", "2021-02-30"],
            "--born-to: no es un día del calendario",
        ),
        (["--born-from", "20210201", "--born-to", "2021-02-03"], "--born-from: se esperaba"),
        (
            ["--born-from", "2021-02-01", "--born-to", "2021-02-03", "--ubigeo", "900501"],
            "--ubigeo 900501: no es un código de distrito en la codificación INEI",
        ),
        (  # a number longer than a district code (a DNI typed there) is not shown
            [
                *("--born-from", "2021-02-01", "--born-to", "2021-02-03"),
                *("--ubigeo", "60542601", "--ubigeo", "900501"),
            ],
            "--ubigeo …: ",
        ),
    ]:
        refused = runner.invoke(cli, [*base, *args], env=env)
        assert refused.exit_code == 1, refused.output
        assert said in refused.output


async def test_an_unknown_district_is_refused_in_the_readers_language(
    http: httpx.AsyncClient, get_token: GetToken
) -> None:
    token = await get_token(["admin"])
    body = {"born_from": "2021-02-01", "born_to": "2021-02-03", "ubigeo": ["900501"]}
    for language, said in [
        ("es", "no es un código de distrito en la codificación INEI"),
        ("en", "not a district code in the INEI coding"),
    ]:
        refused = await http.post(
            RUNS, json=body, headers=bearer(token) | {"Accept-Language": language}
        )
        assert refused.status_code == 422
        assert refused.json()["errors"] == [{"field": "body.ubigeo[0]", "message": said}]


def test_both_date_options_show_their_form_in_the_shells_language() -> None:
    shown = runner.invoke(
        cli, ["exchanges", "run", "--help"], env={"LANG": "es_PE.UTF-8", "COLUMNS": "120"}
    )
    assert shown.exit_code == 0, shown.output
    for option in ("--born-from", "--born-to"):
        line = next(line for line in shown.output.splitlines() if option in line)
        assert "AAAA-MM-DD" in line, line
