"""The operator's pages in Chromium, against ``serve`` in sandbox mode: a partner goes down
and comes back while the page watches, a failed exchange is run again, a client is
created and its secret shown once, and every page is screenshotted and checked with axe.

The gateway under test is a ``serve`` process of its own (not the session's shared one):
its RENIEC address points at a RENIEC mock this test runs in its own process, on a port
it holds, so the test can stop that partner and start it again while the gateway runs
(the mocks ``serve`` starts live inside the gateway's process and cannot be stopped
alone). Its breaker cool-down is 2 seconds and its exchange worker polls twice a second,
so that going down and coming back takes seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from adapters.reniec.mock import create_app as reniec_app
from adapters.sandbox.settings import SandboxSettings
from gateway import migrate
from gateway.core.db import create_engine, session_factory, transaction
from gateway.exchanges.repository import ExchangeRepository
from gateway.settings import REPO_ROOT
from tests.fixtures.browser import (
    DESKTOP,
    PHONE,
    ConsoleServer,
    assert_accessible,
    screenshot,
    sign_in_with_form,
)
from tests.fixtures.database import DatabaseFactory
from tests.fixtures.serving import mock_ports, serving
from tests.fixtures.support import free_port

OPERATOR = "/console/operator"


class ControlledMock:
    """The RENIEC mock served by uvicorn in a thread of this process, on one port that
    stays the same across a stop and a start (as a partner's server that is restarted)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = reniec_app(SandboxSettings())
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="error", lifespan="off", access_log=False)
        )
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the RENIEC mock did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None


@pytest.fixture(scope="module")
def reniec() -> Iterator[ControlledMock]:
    mock = ControlledMock()
    mock.start()
    yield mock
    mock.stop()


@pytest.fixture(scope="module")
def operator_server(
    databases: DatabaseFactory,
    tmp_path_factory: pytest.TempPathFactory,
    reniec: ControlledMock,
) -> Iterator[ConsoleServer]:
    """``serve`` in sandbox mode, its RENIEC address at the mock this test controls."""
    workdir = tmp_path_factory.mktemp("operator-console")
    url = databases.new()
    migrate.upgrade(url)
    env = {
        "GATEWAY_ENV": "sandbox",
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_VAR_DIR": str(workdir / "var"),
        "GATEWAY_CLI_ENV_FILE": "",
        "GATEWAY_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO_ROOT),
        "LANG": "es_PE.UTF-8",
        "GATEWAY_PARTNERS__RENIEC__BASE_URL": reniec.url,
        "GATEWAY_PARTNERS__RENIEC__BREAKER_COOLDOWN_SECONDS": "2",
        "GATEWAY_PARTNERS__RENIEC__READ_TIMEOUT_SECONDS": "3",
        "GATEWAY_EXCHANGES_POLL_SECONDS": "0.5",
        **mock_ports(),
    }
    with serving(env, workdir) as served:
        assert httpx.get(f"{served.base}/healthz", timeout=5).status_code == 200, served.output
        seeded = json.loads((workdir / "var" / "sandbox-console-users.json").read_text())
        users = {
            role: (entry["username"], entry["password"])
            for entry in seeded["users"]
            for role in entry["roles"]
        }
        yield ConsoleServer(served.base, env, workdir, users)


@pytest.fixture
def operator_page(operator_server: ConsoleServer, console_browser: Browser) -> Iterator[Page]:
    """A page signed in as the sandbox's operator, in Spanish, at 1366x768."""
    context = console_browser.new_context(
        viewport=DESKTOP, locale="es-PE", base_url=operator_server.base
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    username, password = operator_server.users["operator"]
    sign_in_with_form(page, operator_server, username, password)
    page.wait_for_url(operator_server.url("/console"))
    yield page
    context.close()


def card(page: Page, partner: str) -> Any:
    return page.locator(f"#partner-{partner}")


def test_the_operator_sees_a_partner_go_down_and_come_back(
    operator_page: Page, reniec: ControlledMock
) -> None:
    page = operator_page
    page.goto("/console")
    page.locator("main").get_by_role("link", name="Operación").click()
    expect(page).to_have_url(re.compile(f"{OPERATOR}/partners$"))
    expect(page.get_by_role("heading", name="Entidades", exact=True)).to_be_visible()
    reniec_card = card(page, "reniec")
    expect(reniec_card.get_by_role("heading")).to_have_text("RENIEC (registro civil)")
    expect(reniec_card).to_contain_text(reniec.url)
    expect(reniec_card.locator("[data-reachable]")).to_have_attribute("data-reachable", "yes")
    expect(reniec_card.locator("[data-breaker]")).to_have_attribute("data-breaker", "closed")
    expect(reniec_card).to_contain_text("cerrado")
    screenshot(page, "operator-partners")
    assert_accessible(page)

    reniec.stop()
    # Calls are needed for the breaker to see it: an exchange that reads RENIEC, now.
    page.goto(f"{OPERATOR}/exchanges")
    page.get_by_role("button", name="Ejecutar ahora «Nacidos del día (RENIEC)»").click()
    expect(page).to_have_url(re.compile(f"{OPERATOR}/exchanges/reniec-newborns/runs/"))
    page.goto(f"{OPERATOR}/partners")
    # The page refreshes itself: no reload from here on.
    reniec_card = card(page, "reniec")
    expect(reniec_card.locator("[data-reachable]")).to_have_attribute(
        "data-reachable", "no", timeout=20_000
    )
    expect(reniec_card).to_contain_text("conexión rechazada")
    expect(reniec_card.locator("[data-breaker]")).to_have_attribute(
        "data-breaker", "open", timeout=30_000
    )
    expect(reniec_card).to_contain_text("abierto")
    expect(reniec_card).to_contain_text("connection refused")
    expect(reniec_card.locator("table")).to_contain_text(reniec.url)
    expect(page.locator(".summary")).to_contain_text("Una entidad tiene problemas: reniec.")
    screenshot(page, "operator-partners-down")
    assert_accessible(page)

    reniec.start()
    expect(reniec_card.locator("[data-reachable]")).to_have_attribute(
        "data-reachable", "yes", timeout=20_000
    )
    # The run's next attempt probes the partner after the cool-down and closes the breaker.
    expect(card(page, "reniec").locator("[data-breaker]")).to_have_attribute(
        "data-breaker", "closed", timeout=60_000
    )
    expect(page.locator(".summary")).to_contain_text("Todas las entidades aceptan conexiones")
    expect(card(page, "reniec")).to_contain_text("respondió bien después")
    screenshot(page, "operator-partners-back")

    # The refresh can be paused, for a person who reads slowly (WCAG 2.2.2).
    pause = page.get_by_role("button", name="Pausar la actualización automática")
    pause.click()
    expect(page.get_by_role("button", name="Reanudar la actualización automática")).to_be_visible()


def _seed_failed_run(database_url: str) -> str:
    """A reniec-newborns run that failed earlier (its 12 attempts spent), put in place
    as a fixture row: waiting out the real backoff takes over ten minutes."""
    run_id = str(uuid.uuid4())
    today = date.today()

    async def seed() -> None:
        engine = create_engine(database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                now = datetime.now(UTC)
                await ExchangeRepository(session).add_run(
                    {
                        "run_id": run_id,
                        "name": "reniec-newborns",
                        "slot": None,
                        "state": "failed",
                        "params": {
                            "born_from": (today - timedelta(days=2)).isoformat(),
                            "born_to": today.isoformat(),
                            "ubigeo": [],
                        },
                        "cursor": None,
                        "chunks_done": 0,
                        "records": 0,
                        "attempts": 12,
                        "last_error": "partner-unavailable",
                        "not_before": now,
                        "triggered_by": "schedule",
                        "created_at": now - timedelta(hours=1),
                        "started_at": now - timedelta(hours=1),
                        "finished_at": now - timedelta(minutes=5),
                    }
                )
        finally:
            await engine.dispose()

    # Playwright's synchronous API keeps an event loop of its own in this thread.
    worker = threading.Thread(target=asyncio.run, args=(seed(),))
    worker.start()
    worker.join()
    return run_id


def test_the_operator_runs_a_failed_exchange_again(
    operator_page: Page, operator_server: ConsoleServer
) -> None:
    page = operator_page
    failed_id = _seed_failed_run(operator_server.env["GATEWAY_DATABASE_URL"])
    page.goto(f"{OPERATOR}/exchanges")
    page.get_by_label("Estado").select_option("failed")
    page.get_by_role("button", name="Mostrar").click()
    expect(page).to_have_url(re.compile(r"state=failed"))
    screenshot(page, "operator-exchanges")
    assert_accessible(page)
    page.locator(f"a[href$='/runs/{failed_id}']").click()
    expect(page.locator("#run-state")).to_have_text("fallida")
    expect(page.locator("main")).to_contain_text("partner-unavailable")
    screenshot(page, "operator-exchange-run-failed")
    assert_accessible(page)

    page.get_by_role("button", name="Volver a ejecutar").click()
    expect(page).not_to_have_url(re.compile(failed_id))
    main = page.locator("main")
    expect(main).to_contain_text("consola · operadora")
    # The gateway's worker runs it against RENIEC, which answers.
    deadline = time.monotonic() + 60
    while page.locator("#run-state").inner_text() != "terminada":
        assert time.monotonic() < deadline, page.locator("main").inner_text()
        time.sleep(1)
        page.reload()
    screenshot(page, "operator-exchange-run-rerun")
    assert_accessible(page)


def test_the_operator_creates_a_client_and_sees_its_secret_once(operator_page: Page) -> None:
    page = operator_page
    page.goto(f"{OPERATOR}/clients")
    page.get_by_label("Nombre", exact=True).fill("Sistema de seguimiento, JUNTOS")
    page.get_by_label(re.compile("sistema del programa")).check()
    page.get_by_label("coresponsibility-verification").check()
    page.get_by_role("button", name="Crear cliente").click()
    issued = page.locator("#issued")
    expect(issued).to_contain_text("Cliente creado")
    secret = page.locator("#issued-secret").inner_text()
    client_id = page.locator("#issued-client-id").inner_text()
    assert len(secret) >= 40
    screenshot(page, "operator-client-created")
    assert_accessible(page)

    page.goto(f"{OPERATOR}/clients")
    expect(page.locator(f"#client-{client_id}")).to_contain_text("activo")
    assert secret not in page.content()  # shown once, never again
    screenshot(page, "operator-clients")
    assert_accessible(page)
    page.locator(f"#client-{client_id}").get_by_role("button", name="Desactivar").click()
    expect(page.locator("main")).to_contain_text(f"Cliente {client_id} desactivado")
    expect(page.locator(f"#client-{client_id}")).to_contain_text("desactivado")


def _push_his_file(server: ConsoleServer) -> str:
    """A HIS file with one good row and one refused row, pushed over the API by the
    sandbox's partner client; its message id."""
    clients = json.loads((Path(server.cwd) / "var" / "sandbox-clients.json").read_text())
    partner = next(c for c in clients["clients"] if c["role"] == "partner")
    token = httpx.post(
        server.url("/v1/token"),
        data={"grant_type": "client_credentials"},
        auth=(partner["client_id"], partner["client_secret"]),
    ).json()["access_token"]
    row = {
        "cui": "39774981",
        "appointment_id": "A-1",
        "service_date": "2021-02-10",
        "item_code": "90681",
        "facility": "00001234",
        "lab_value": "1",
    }
    message_id = f"his-{uuid.uuid4().hex[:12]}"
    body = json.dumps(row) + "\n" + json.dumps({**row, "cui": "12"}) + "\n"
    pushed = httpx.post(
        server.url("/v1/inbound/minsa-his/health-records"),
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "X-Purpose": "coresponsibility-verification",
            "X-Message-Id": message_id,
            "Content-Type": "application/x-ndjson",
        },
    )
    assert pushed.status_code < 300, pushed.text
    return message_id


def test_receipts_payments_and_keys(operator_page: Page, operator_server: ConsoleServer) -> None:
    page = operator_page
    message_id = _push_his_file(operator_server)
    page.goto(f"{OPERATOR}/receipts")
    expect(page.locator("main")).to_contain_text("Atenciones de salud (MINSA HIS)")
    screenshot(page, "operator-receipts")
    assert_accessible(page)
    page.get_by_role("link", name=message_id).click()
    expect(page.locator("#rows-accepted")).to_have_text("1")
    expect(page.locator("#rows-refused")).to_have_text("1")
    expect(page.get_by_role("heading", name="Filas rechazadas por motivo")).to_be_visible()
    screenshot(page, "operator-receipt")
    assert_accessible(page)

    page.goto(f"{OPERATOR}/payments")
    expect(page.get_by_role("heading", name="Pagos")).to_be_visible()
    screenshot(page, "operator-payments")
    assert_accessible(page)

    page.goto(f"{OPERATOR}/keys")
    screenshot(page, "operator-keys")
    assert_accessible(page)
    page.get_by_role("button", name="Renovar la clave de firma de tokens").click()
    expect(page.locator("main")).to_contain_text("Nueva clave de firma de tokens")
    expect(page.locator("main")).to_contain_text("retirada, aún verifica los tokens emitidos antes")
    screenshot(page, "operator-keys-rotated")


def test_the_partners_page_fits_a_phone(
    operator_server: ConsoleServer, console_browser: Browser
) -> None:
    context = console_browser.new_context(
        viewport=PHONE, locale="es-PE", base_url=operator_server.base
    )
    try:
        page = context.new_page()
        username, password = operator_server.users["operator"]
        sign_in_with_form(page, operator_server, username, password)
        page.wait_for_url(operator_server.url("/console"))
        page.goto(f"{OPERATOR}/partners")
        expect(card(page, "bn")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, "operator-partners-phone")
        assert_accessible(page)
    finally:
        context.close()
