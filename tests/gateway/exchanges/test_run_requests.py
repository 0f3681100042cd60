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


def test_the_command_line_refuses_the_same_windows(settings: Settings) -> None:
    env = env_for(settings)
    for args, message in [
        (["--born-from", "2021-02-01", "--born-to", "2021-01-01"], "must not be before"),
        (["--born-from", "2019-01-01", "--born-to", "2021-01-01"], "at most 366 days"),
        (["--born-from", "2999-01-01", "--born-to", "2999-01-02"], "must not be in the future"),
    ]:
        refused = runner.invoke(cli, ["exchanges", "run", "reniec-newborns", *args], env=env)
        assert refused.exit_code == 1, refused.output
        assert "--born-to" in refused.output
        assert message in refused.output
