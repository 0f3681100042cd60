"""The operator's pages over HTTP: who may open them, the CSRF check on every action, and
that each action is done and recorded under the person's name."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from gateway.console.service import Actor, create_account
from gateway.core.db import transaction
from gateway.exchanges.jobs import ExchangeRunJob
from gateway.jobs import JobRunner
from gateway.jobs.starters import Starter
from tests.fixtures.gateway import MakeClient, audit_log, bearer
from tests.fixtures.partners import Grant, Mocks, purpose
from tests.fixtures.payments import payees, roll, transfer
from tests.fixtures.support import free_port

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
BASE = "/console/operator"
PAGES = [
    "",
    "/partners",
    "/partners/live",
    "/exchanges",
    "/payments",
    "/receipts",
    "/clients",
    "/keys",
]
ACTIONS = [
    "/exchanges/reniec-newborns/runs",
    "/exchanges/reniec-newborns/runs/some-run/rerun",
    "/clients",
    "/clients/cl_0000000000000000/disable",
    "/clients/cl_0000000000000000/enable",
    "/clients/cl_0000000000000000/rotate-secret",
    "/keys/signing/rotate",
    "/keys/checkpoint/rotate",
]
# A loopback port nothing listens on (handed out once per run): a connection to it is
# refused, as to a partner whose server was stopped.
CLOSED = f"http://127.0.0.1:{free_port()}"
RENIEC_DOWN = pytest.mark.parametrize(
    "settings", [{"reniec": {"base_url": CLOSED}}], indirect=True, ids=["reniec-down"]
)


async def add_person(app: FastAPI, username: str, *roles: str) -> None:
    async with transaction(app.state.gateway.sessions) as session:
        await create_account(
            session,
            username,
            list(roles),
            actor=Actor("test"),
            partners={"reniec", "osiptel", "bn", "minsa_his"},
            display_name=username.title(),
            partner="minsa_his" if "partner-agent" in roles else None,
            password=PASSWORD,
        )


def csrf_in(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def signed_in_as(app: FastAPI, http: httpx.AsyncClient, username: str, *roles: str) -> str:
    """Create the person, sign them in on ``http``; their session's CSRF token."""
    await add_person(app, username, *roles)
    login = await http.get("/console/login")
    answer = await http.post(
        "/console/login",
        data={
            "csrf_token": csrf_in(login),
            "username": username,
            "password": PASSWORD,
            "next": "/console",
        },
    )
    assert answer.status_code == 303, answer.text
    return csrf_in(await http.get("/console"))


async def events(app: FastAPI, service: str) -> list[dict[str, Any]]:
    return [e for e in await audit_log(app) if e["service"] == service]


def text_of(page: httpx.Response) -> str:
    """The page's text without tags, spaces collapsed (what a person reads)."""
    return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())


# -- who may open the pages ------------------------------------------------------------


async def test_without_a_session_every_page_leads_to_the_sign_in_page(
    http: httpx.AsyncClient,
) -> None:
    for path in PAGES:
        answer = await http.get(BASE + path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/console/login?next=/console/operator")
    for path in ACTIONS:
        answer = await http.post(BASE + path, data={"csrf_token": "x"})
        assert answer.status_code == 303, path


@pytest.mark.parametrize("roles", [("auditor",), ("admin",), ("partner-agent",)])
async def test_other_roles_are_refused_every_page_and_action(
    app: FastAPI, http: httpx.AsyncClient, make_client: MakeClient, roles: tuple[str, ...]
) -> None:
    token = await signed_in_as(app, http, "otro", *roles)
    before = len(await audit_log(app))
    for path in PAGES:
        answer = await http.get(BASE + path)
        assert answer.status_code == 403, path
        assert "No permitido" in answer.text or "Not allowed" in answer.text
    admin = await make_client(["admin"])
    for path in [*ACTIONS, f"/clients/{admin.client_id}/disable"]:
        answer = await http.post(BASE + path, data={"csrf_token": token, "name": "x"})
        assert answer.status_code == 403, path
    assert len(await audit_log(app)) == before  # nothing was done, nothing recorded


async def test_every_action_refuses_a_form_without_the_session_csrf_token(
    app: FastAPI, http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    await signed_in_as(app, http, "olga", "operator")
    admin = await make_client(["admin"])
    consumer = await make_client(["consumer"], ["affiliation"])
    actions = [
        *ACTIONS,
        f"/clients/{consumer.client_id}/disable",
        f"/clients/{consumer.client_id}/rotate-secret",
        f"/clients/{admin.client_id}/disable",
    ]
    before = len(await audit_log(app))
    for path in actions:
        for form in ({}, {"csrf_token": "not-the-session-token"}):
            answer = await http.post(BASE + path, data={**form, "name": "x", "roles": "consumer"})
            assert answer.status_code == 403, path
            assert "Formulario rechazado" in answer.text
    assert len(await audit_log(app)) == before
    clients = await http.get(f"{BASE}/clients")
    assert "x</th>" not in clients.text  # no client named "x" was created
    token = await http.post(
        "/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": consumer.client_id,
            "client_secret": consumer.client_secret,
        },
    )
    assert token.status_code == 200  # neither disabled nor rotated


# -- partners --------------------------------------------------------------------------


@pytest.mark.partner_mocks
@RENIEC_DOWN
async def test_partners_show_breaker_address_and_the_cause_of_the_last_error(
    app: FastAPI, http: httpx.AsyncClient, mocks: Mocks
) -> None:
    await signed_in_as(app, http, "olga", "operator")
    page = await http.get(f"{BASE}/partners")
    assert page.status_code == 200
    text = text_of(page)
    for label in (
        "RENIEC (registro civil)",
        "OSIPTEL (regulador de telecomunicaciones)",
        "Banco de la Nación (banco del Estado)",
        "MINSA HIS (sistema de información en salud)",
    ):
        assert label in text
    assert CLOSED in text
    assert mocks.urls["osiptel"] in text
    assert "conexión rechazada: nada escucha en esta dirección" in text  # RENIEC
    assert text.count("acepta conexiones") == 4  # the three mocks and the SMS centre
    assert "Una entidad tiene problemas: reniec." in text
    assert "/console/static/operator/operator.js" in page.text

    # Calls fail against the stopped partner until the breaker opens (5 in a row).
    runner = JobRunner(app.state.gateway.sessions, CollectorRegistry(), max_attempts=1)
    runner.register(ExchangeRunJob(app.state.gateway.exchanges))
    for _ in range(2):
        async with transaction(app.state.gateway.sessions) as session:
            await app.state.gateway.exchanges.trigger(
                session,
                "reniec-newborns",
                {"born_from": "2021-01-01", "born_to": "2021-01-02", "ubigeo": []},
                Starter("test"),
            )
        await runner.work_available()
    live = await http.get(f"{BASE}/partners/live")
    assert live.status_code == 200
    assert "<html" not in live.text  # the table alone, for the page's refresh
    reniec = text_of(live).split("RENIEC (registro civil)")[1].split("OSIPTEL")[0]
    assert "abierto" in reniec
    assert "semiabierto" not in reniec
    assert "connection refused" in reniec  # the cause of the last error
    assert CLOSED in reniec  # the failing address
    assert "entidad no disponible" in reniec
    assert "partner-unavailable" in reniec
    assert "respondidas bien: 0 · fallidas: 5 · rechazadas por el interruptor: 1" in reniec

    english = await http.get(f"{BASE}/partners", headers={"Accept-Language": "en"})
    assert "RENIEC (civil registry)" in english.text
    assert "connection refused" in english.text


# -- exchange runs ---------------------------------------------------------------------


@pytest.mark.partner_mocks
@RENIEC_DOWN
async def test_a_failed_exchange_is_run_again_under_the_persons_name(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await signed_in_as(app, http, "olga", "operator")
    started = await http.post(f"{BASE}/exchanges/reniec-newborns/runs", data={"csrf_token": token})
    assert started.status_code == 303
    first_page = started.headers["location"]
    first_id = first_page.rsplit("/", 1)[1]
    queued = text_of(await http.get(first_page))
    assert "en cola" in queued
    assert "consola · olga" in queued

    # The partner is down; a runner that gives up after one attempt leaves it failed.
    runner = JobRunner(app.state.gateway.sessions, CollectorRegistry(), max_attempts=1)
    runner.register(ExchangeRunJob(app.state.gateway.exchanges))
    assert await runner.work_available() == 1
    failed = await http.get(first_page)
    assert "fallida" in text_of(failed)
    assert "partner-unavailable" in failed.text
    assert "Volver a ejecutar" in failed.text
    listing = text_of(await http.get(f"{BASE}/exchanges?state=failed"))
    assert "Nacidos del día (RENIEC)" in listing
    assert "consola · olga" in listing

    again = await http.post(
        f"{first_page}/rerun", data={"csrf_token": token}, follow_redirects=False
    )
    assert again.status_code == 303
    second_id = again.headers["location"].rsplit("/", 1)[1]
    assert second_id != first_id
    second = text_of(await http.get(again.headers["location"]))
    assert "en cola" in second
    assert "consola · olga" in second
    state = app.state.gateway
    async with transaction(state.sessions) as session:
        old = await state.exchanges.get(session, "reniec-newborns", first_id)
        new = await state.exchanges.get(session, "reniec-newborns", second_id)
    assert new["params"] == old["params"]
    assert (new["triggered_by"], new["triggered_by_user"]) == ("console", "olga")
    assert old["state"] == "failed"

    # Only a failed run is run again.
    refused = await http.post(
        f"{BASE}/exchanges/reniec-newborns/runs/{second_id}/rerun", data={"csrf_token": token}
    )
    assert refused.status_code == 409
    assert "Solo se puede volver a ejecutar una ejecución fallida." in refused.text

    # The audit names the person: the two actions, and each partner call of the run.
    run_event, rerun_event = (
        *await events(app, "console.exchange-run"),
        *await events(app, "console.exchange-rerun"),
    )
    for event in (run_event, rerun_event):
        assert (event["client_id"], event["user_id"]) == ("console", "olga")
    assert json.loads(rerun_event["reason"]) == {
        "exchange": "reniec-newborns",
        "run_id": second_id,
        "rerun_of": first_id,
    }
    attempt = [e for e in await events(app, "reniec.newborns") if e["outcome"] != "ok"]
    assert [(e["client_id"], e["user_id"]) for e in attempt] == [("console", "olga")]


async def test_an_unknown_run_or_exchange_is_a_not_found_page(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await signed_in_as(app, http, "olga", "operator")
    assert (await http.get(f"{BASE}/exchanges/reniec-newborns/runs/nope")).status_code == 404
    assert (await http.get(f"{BASE}/exchanges/nope/runs/nope")).status_code == 404
    answer = await http.post(f"{BASE}/exchanges/nope/runs", data={"csrf_token": token})
    assert answer.status_code == 404
    assert (await http.get(f"{BASE}/payments/nope")).status_code == 404
    assert (await http.get(f"{BASE}/receipts/minsa_his/nope")).status_code == 404


# -- payment runs ----------------------------------------------------------------------


@pytest.mark.partner_mocks
async def test_payment_runs_show_progress_and_refusals_without_personal_data(
    app: FastAPI,
    http: httpx.AsyncClient,
    mocks: Mocks,
    consumer: dict[str, str],
    consented: Grant,
) -> None:
    people = await payees(http, mocks, consumer, consented, 2)
    transfers = [transfer(n, h, a) for n, (h, a) in enumerate(people)]
    transfers.append({**transfers[0], "end_to_end_id": "DU095-T1-BADCCI", "cci": "123"})
    without_consent = mocks.adult(people[-1][0].index + 1).mother.dni
    transfers.append({**transfers[1], "end_to_end_id": "DU095-T1-NOCONS", "dni": without_consent})
    created = await http.post(
        "/v1/payment-runs",
        json=roll("2021-03-T1", transfers),
        headers=consumer | purpose("payment"),
    )
    assert created.status_code == 201, created.text
    run_id = created.json()["data"]["id"]
    assert await app.state.gateway.jobs.work_available() == 1

    await signed_in_as(app, http, "olga", "operator")
    listing = await http.get(f"{BASE}/payments")
    text = text_of(listing)
    assert "2021-03-T1" in text
    assert "terminada" in text
    detail = await http.get(f"{BASE}/payments/{run_id}")
    text = text_of(detail)
    assert "en la planilla: 2 · pagadas: 2 · rechazadas: 0 · a la espera del banco: 0" in text
    assert "bloques enviados: 1 de 1" in text
    assert created.json()["data"]["triggered_by"] in text  # the client that submitted it
    assert "Rechazadas al recibir la planilla" in text
    assert "cci" in text
    # The consent refusal in words, not as the problem's slug.
    assert "la persona titular no tiene un consentimiento activo para pagos" in text
    assert "consent-required" not in text
    assert without_consent not in detail.text
    assert "Cargos asentados 2" in text
    for household, account in people:
        assert household.mother.dni not in detail.text
        assert account["cci"] not in detail.text
        assert household.mother.given_names not in detail.text


# -- pushed files ----------------------------------------------------------------------


async def test_pushed_files_show_rows_accepted_and_refused_by_reason(
    app: FastAPI, http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    partner = await make_client(["partner"], ["coresponsibility-verification"])
    token = (
        await http.post(
            "/v1/token",
            data={
                "grant_type": "client_credentials",
                "client_id": partner.client_id,
                "client_secret": partner.client_secret,
            },
        )
    ).json()["access_token"]
    good = {
        "cui": "39774981",
        "appointment_id": "A-1",
        "service_date": "2021-02-10",
        "item_code": "90681",
        "facility": "00001234",
        "lab_value": "1",
    }
    rows = [
        good,
        {**good, "cui": "12"},
        {**good, "cui": "34", "item_code": "?"},
        {**good},
        {**good, "facility": "F" * 21},
    ]
    body = "\n".join(json.dumps(r) for r in rows) + "\n"
    pushed = await http.post(
        "/v1/inbound/minsa-his/health-records",
        content=body,
        headers=bearer(token)
        | purpose("coresponsibility-verification", **{"X-Message-Id": "his-2021-02-0001"})
        | {"Content-Type": "application/x-ndjson"},
    )
    assert pushed.status_code in (200, 201, 202), pushed.text

    await signed_in_as(app, http, "olga", "operator")
    listing = text_of(await http.get(f"{BASE}/receipts"))
    assert "Atenciones de salud (MINSA HIS)" in listing
    assert "his-2021-02-0001" in listing
    only = text_of(await http.get(f"{BASE}/receipts?feed=births"))
    assert "his-2021-02-0001" not in only
    detail = await http.get(f"{BASE}/receipts/minsa_his/his-2021-02-0001")
    assert detail.status_code == 200
    text = text_of(detail)
    assert "Filas aceptadas 2" in text
    assert "Filas rechazadas 3" in text
    assert "Filas rechazadas por motivo" in text
    # Two rows refused for their CUI, one of them also for its item code.
    assert re.search(r"cui .+ 2 2, 3", text), text
    assert re.search(r"item_code .+ 1 3", text), text
    # A reason with a number in it is in the operator's language too.
    assert "facility se esperaba un texto de hasta 20 caracteres 1 5" in text, text
    assert partner.client_id in text
    assert "39774981" not in detail.text  # never a value of a row


# -- clients ---------------------------------------------------------------------------


async def _token_status(http: httpx.AsyncClient, client_id: str, secret: str) -> int:
    answer = await http.post(
        "/v1/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    return answer.status_code


async def test_a_client_is_created_with_its_secret_shown_once_then_disabled_enabled_rotated(
    app: FastAPI, http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    token = await signed_in_as(app, http, "olga", "operator")
    created = await http.post(
        f"{BASE}/clients",
        data={
            "csrf_token": token,
            "name": "Sistema de afiliación",
            "roles": "consumer",
            "purposes": ["affiliation", "contact"],
        },
    )
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    client_id = re.search(r'id="issued-client-id">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    secret = re.search(r'id="issued-secret">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    assert "Cliente creado" in created.text
    assert await _token_status(http, client_id, secret) == 200
    listing = await http.get(f"{BASE}/clients")
    assert client_id in listing.text
    assert secret not in listing.text

    disabled = await http.post(f"{BASE}/clients/{client_id}/disable", data={"csrf_token": token})
    assert disabled.status_code == 303
    page = await http.get(disabled.headers["location"])
    assert f"Cliente {client_id} desactivado" in page.text
    assert await _token_status(http, client_id, secret) == 401
    enabled = await http.post(f"{BASE}/clients/{client_id}/enable", data={"csrf_token": token})
    assert enabled.status_code == 303
    assert await _token_status(http, client_id, secret) == 200

    rotated = await http.post(
        f"{BASE}/clients/{client_id}/rotate-secret", data={"csrf_token": token}
    )
    assert rotated.status_code == 200
    assert rotated.headers["cache-control"] == "no-store"
    new_secret = re.search(r'id="issued-secret">([^<]+)<', rotated.text).group(1)  # type: ignore[union-attr]
    assert new_secret != secret
    assert "Secreto renovado" in rotated.text
    assert await _token_status(http, client_id, secret) == 401
    assert await _token_status(http, client_id, new_secret) == 200

    recorded = [
        (e["operation"], e["client_id"], e["user_id"], e["subjects"])
        for e in await events(app, "clients")
    ]
    assert recorded == [
        (op, "console", "olga", [f"client:{client_id}"])
        for op in ("create", "disable", "enable", "rotate-secret")
    ]
    assert not any(secret in json.dumps(e, default=str) for e in await audit_log(app))


async def test_a_wrong_form_is_shown_again_and_the_last_admin_stays_active(
    app: FastAPI, http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    token = await signed_in_as(app, http, "olga", "operator")
    refused = await http.post(
        f"{BASE}/clients", data={"csrf_token": token, "name": "Sin rol", "roles": []}
    )
    assert refused.status_code == 422
    assert "Elija al menos un rol." in refused.text
    assert 'value="Sin rol"' in refused.text
    admin = await make_client(["admin"])
    last = await http.post(f"{BASE}/clients/{admin.client_id}/disable", data={"csrf_token": token})
    assert last.status_code == 409
    assert "último cliente activo con el rol de administrador" in last.text
    assert await _token_status(http, admin.client_id, admin.client_secret) == 200
    assert await events(app, "clients") == []


# -- keys ------------------------------------------------------------------------------


async def test_keys_are_listed_with_their_state_and_rotated_under_the_persons_name(
    app: FastAPI, http: httpx.AsyncClient, make_client: MakeClient
) -> None:
    consumer = await make_client(["consumer"], ["affiliation"])
    assert await _token_status(http, consumer.client_id, consumer.client_secret) == 200
    token = await signed_in_as(app, http, "olga", "operator")
    before = text_of(await http.get(f"{BASE}/keys"))
    assert "firmando" in before

    rotated = await http.post(f"{BASE}/keys/signing/rotate", data={"csrf_token": token})
    assert rotated.status_code == 303
    page = text_of(await http.get(rotated.headers["location"]))
    kid = rotated.headers["location"].rsplit("=", 1)[1]
    assert f"Nueva clave de firma de tokens {kid}" in page
    assert "retirada, aún verifica los tokens emitidos antes" in page
    assert await _token_status(http, consumer.client_id, consumer.client_secret) == 200

    checkpoint = await http.post(f"{BASE}/keys/checkpoint/rotate", data={"csrf_token": token})
    assert checkpoint.status_code == 303
    key_id = checkpoint.headers["location"].rsplit("=", 1)[1]
    page = text_of(await http.get(checkpoint.headers["location"]))
    assert key_id in page
    assert "firmando los nuevos puntos de control" in page
    published = (await http.get("/v1/audit/keys")).json()
    assert key_id in json.dumps(published)

    (signing,) = await events(app, "console.signing-key-rotate")
    (audit_key,) = await events(app, "console.checkpoint-key-rotate")
    assert (signing["client_id"], signing["user_id"]) == ("console", "olga")
    assert json.loads(signing["reason"]) == {"kid": kid}
    assert (audit_key["user_id"], json.loads(audit_key["reason"])) == ("olga", {"key_id": key_id})


async def test_a_run_names_a_person_with_the_longest_username(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    username = "operadora." + "x" * 54  # 64 characters, the most a username may have
    token = await signed_in_as(app, http, username, "operator")
    started = await http.post(f"{BASE}/exchanges/osiptel-refresh/runs", data={"csrf_token": token})
    assert started.status_code == 303
    assert f"consola · {username}" in (await http.get(started.headers["location"])).text
    run_id = started.headers["location"].rsplit("/", 1)[1]
    async with transaction(app.state.gateway.sessions) as session:
        run = await app.state.gateway.exchanges.get(session, "osiptel-refresh", run_id)
    assert (run["triggered_by"], run["triggered_by_user"]) == ("console", username)
