"""The console's own pages in Chromium, against ``serve`` in sandbox mode: sign-in in
Spanish, the refusals (wrong password, lockout, a forged form), sign-out, the language
switch, and each page accessible and screenshotted at desktop and phone width."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.fixtures.browser import (
    ConsolePage,
    ConsoleServer,
    assert_accessible,
    screenshot,
    sign_in_with_form,
)

REFUSED = "Usuario o contraseña incorrectos"


def fits_the_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_person_signs_in_in_spanish(
    console_page: ConsolePage, console_server: ConsoleServer
) -> None:
    page = console_page(None)
    page.goto("/console")
    expect(page).to_have_url(re.compile(r"/console/login\?next=/console$"))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    # The first Tab lands on the skip link, visible when focused.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Saltar al contenido principal")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    screenshot(page, "console-login")
    assert_accessible(page)
    username, password = console_server.users["auditor"]
    sign_in_with_form(page, console_server, username, password)
    expect(page).to_have_url(console_server.url("/console"))
    expect(page.get_by_role("heading", name=re.compile("Le damos la bienvenida"))).to_be_visible()
    expect(page.get_by_role("link", name="Auditoría").first).to_be_visible()
    expect(page.get_by_role("link", name="Operación")).to_have_count(0)
    screenshot(page, "console-home-auditor")
    assert_accessible(page)


def test_each_role_sees_its_areas(console_page: ConsolePage) -> None:
    for role, area, name in [
        ("operator", "/console/operator", "Operación"),
        ("partner-agent", "/console/agent", "Archivos del socio"),
    ]:
        page = console_page(role)
        page.goto("/console")
        link = page.locator("main").get_by_role("link", name=name)
        expect(link).to_have_attribute("href", area)
        screenshot(page, f"console-home-{role}")
        assert_accessible(page)
    admin = console_page("admin")
    admin.goto("/console")
    expect(admin.locator("main").get_by_role("link", name="Usuarios de la consola")).to_be_visible()
    screenshot(admin, "console-home-admin")
    assert_accessible(admin)


def test_the_pages_fit_a_phone(console_page: ConsolePage) -> None:
    page = console_page(None, phone=True)
    page.goto("/console/login")
    assert fits_the_width(page)
    screenshot(page, "console-login-phone")
    home = console_page("auditor", phone=True)
    home.goto("/console")
    assert fits_the_width(home)
    screenshot(home, "console-home-phone")
    assert_accessible(home)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    console_page: ConsolePage, console_server: ConsoleServer
) -> None:
    page = console_page(None)
    username, _ = console_server.users["operator"]
    sign_in_with_form(page, console_server, username, "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text(REFUSED)
    expect(page.get_by_label("Usuario")).to_have_value(username)
    screenshot(page, "console-login-refused")
    assert_accessible(page)
    sign_in_with_form(page, console_server, "nadie-con-este-nombre", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text(REFUSED)


def test_five_failures_lock_the_account_even_for_the_right_password(
    console_page: ConsolePage, console_server: ConsoleServer
) -> None:
    password = "a-password-only-this-test-knows"
    created = console_server.cli(
        ["users", "create", "bloqueable", "--role", "operator", "--password-stdin"],
        stdin=password + "\n",
    )
    assert created.returncode == 0, created.stderr
    page = console_page(None)
    for _ in range(5):
        sign_in_with_form(page, console_server, "bloqueable", "wrong-password")
        expect(page.get_by_role("alert")).to_contain_text(REFUSED)
    sign_in_with_form(page, console_server, "bloqueable", password)
    expect(page.get_by_role("alert")).to_contain_text("bloqueada durante")
    expect(page).to_have_url(console_server.url("/console/login"))
    screenshot(page, "console-login-locked")
    # An administrator lifts the lockout by setting a new password.
    reset = console_server.cli(
        ["users", "reset-password", "bloqueable", "--password-stdin"], stdin=password + "\n"
    )
    assert reset.returncode == 0, reset.stderr
    sign_in_with_form(page, console_server, "bloqueable", password)
    expect(page).to_have_url(console_server.url("/console"))


def test_a_forged_form_is_refused(console_page: ConsolePage, console_server: ConsoleServer) -> None:
    page = console_page("auditor", fresh=True)
    page.goto("/console")
    page.locator('form[action="/console/logout"] input[name="csrf_token"]').evaluate(
        "input => input.value = 'forged'"
    )
    page.get_by_role("button", name="Cerrar sesión").click()
    expect(page.get_by_role("heading", name="Formulario rechazado")).to_be_visible()
    screenshot(page, "console-csrf-refused")
    assert_accessible(page)
    # Still signed in: the forged sign-out did nothing.
    page.goto("/console")
    expect(page).to_have_url(console_server.url("/console"))
    # Over plain HTTP with the session's cookie: no token, or another, is 403.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=console_server.base, cookies=cookies) as http:
        assert http.post("/console/logout").status_code == 403
        assert http.post("/console/logout", data={"csrf_token": "x" * 43}).status_code == 403
        assert http.get("/console").status_code == 200


def test_signing_out_ends_the_session(
    console_page: ConsolePage, console_server: ConsoleServer
) -> None:
    page = console_page("operator", fresh=True)
    page.goto("/console")
    page.get_by_role("button", name="Cerrar sesión").click()
    expect(page).to_have_url(console_server.url("/console/login"))
    page.goto("/console")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))


def test_the_language_switch_turns_the_console_english(console_page: ConsolePage) -> None:
    page = console_page("auditor", fresh=True)
    page.goto("/console")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name=re.compile("Welcome"))).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot(page, "console-home-en")
    assert_accessible(page)
    page.get_by_role("button", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")


def test_an_administrator_sees_the_console_users(console_page: ConsolePage) -> None:
    page = console_page("admin")
    page.goto("/console")
    page.locator("main").get_by_role("link", name="Usuarios de la consola").click()
    expect(page.get_by_role("heading", name="Usuarios de la consola")).to_be_visible()
    expect(page.get_by_role("cell", name="auditora", exact=True)).to_be_visible()
    screenshot(page, "console-users")
    assert_accessible(page)
    forbidden = console_page("auditor")
    forbidden.goto("/console/users")
    expect(forbidden.get_by_role("heading", name="No permitido")).to_be_visible()
    screenshot(forbidden, "console-forbidden")
    assert_accessible(forbidden)
