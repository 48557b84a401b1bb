"""The console's session in a real browser: log in, reload, log out, password, agents page.

The real build in headless chromium against a bridge served by uvicorn (no bot needed): the
access token stays in memory (a reload renews it through the HttpOnly refresh cookie), logging
out returns to the log-in form for good, and an admin deactivating an agent sends that agent's
open console back to the log-in form at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade
from crm_bridge.models import AgentRole
from devtools import frontend
from devtools.config import ROOT
from tests.utils.browser import chromium, require_chromium, serve
from tests.utils.factories import PASSWORD, make_agent

pytestmark = pytest.mark.slow
TIMEOUT = 15_000  # ms
SCREENSHOTS = ROOT / "var" / "artifacts" / "screenshots"


@dataclass
class Console:
    """A bridge serving the built console: its URL, app and the logins of two agents."""

    base: str
    app: FastAPI
    logins: dict[str, str]

    def new_agent(self) -> str:
        """Another agent's login (tests that change an account use their own)."""
        with self.app.state.session_factory() as session:
            login = make_agent(session).login
            session.commit()
        return login


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[Console]:
    """The bridge with the built console, served by uvicorn."""
    require_chromium()
    built = frontend.build_console()  # a no-op when `make setup` has built it
    settings = Settings(
        VAR_DIR=tmp_path_factory.mktemp("var"), EVENTS_SOURCE="none", CONSOLE_DIR=built
    )
    upgrade(settings.database_url)
    app = create_app(settings)
    with app.state.session_factory() as session:
        logins = {
            "admin": make_agent(session, AgentRole.ADMIN, name="Admin Li").login,
            "agent": make_agent(session, name="Agent Wang").login,
        }
        session.commit()
    with serve(app) as base:
        yield Console(base=base, app=app, logins=logins)


def _log_in(page, base: str, login: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console/")
    page.get_by_test_id("login-form").wait_for(timeout=TIMEOUT)
    page.get_by_test_id("login-username").fill(login)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    _live(page)


def _live(page) -> None:
    """The workspace is shown and its socket authenticated (the bridge sent the queue)."""
    page.get_by_test_id("logout-button").wait_for(timeout=TIMEOUT)
    online = '[data-testid="connection-status"][data-state="online"]'
    page.wait_for_selector(online, timeout=TIMEOUT)


def test_log_in_reload_and_log_out(console):
    base, logins = console.base, console.logins
    with chromium() as browser:
        context = browser.new_context(locale="en-US")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        _log_in(page, base, logins["agent"])
        # The access token is in memory only; the refresh cookie is out of the page's reach.
        assert page.evaluate("sessionStorage.length") == 0
        stored = page.evaluate("Object.fromEntries(Object.entries(localStorage))")
        assert stored.pop("csa-console-session") == "1"  # "may have a session": no token
        assert set(stored) <= {"csa-console-locale"}
        assert "csa_console_refresh" not in page.evaluate("document.cookie")
        (cookie,) = [c for c in context.cookies() if c["name"] == "csa_console_refresh"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/api/v1/login"

        page.reload()  # still logged in: the cookie gives a new access token
        _live(page)
        assert page.get_by_test_id("login-form").count() == 0

        page.get_by_test_id("logout-button").click()
        page.get_by_test_id("login-form").wait_for(timeout=TIMEOUT)
        assert not [c for c in context.cookies() if c["name"] == "csa_console_refresh"]
        assert page.evaluate("localStorage.getItem('csa-console-session')") is None
        page.reload()  # and it stays logged out
        page.get_by_test_id("login-form").wait_for(timeout=TIMEOUT)
        assert not errors, errors


def test_an_admin_deactivates_an_agent_whose_console_closes_at_once(console):
    base, logins = console.base, console.logins
    with chromium() as browser:
        laptop = {"width": 1366, "height": 768}
        admin = browser.new_context(locale="en-US", viewport=laptop).new_page()
        agent = browser.new_context(locale="zh-CN").new_page()
        _log_in(admin, base, logins["admin"])
        _log_in(agent, base, logins["agent"])

        admin.get_by_test_id("agents-nav").click()
        admin.get_by_test_id("agents-page").wait_for(timeout=TIMEOUT)
        assert admin.url.endswith("/console/agents")
        row = admin.locator(f'[data-testid="agents-row"][data-login="{logins["agent"]}"]')
        assert row.get_attribute("data-active") == "true"
        row.get_by_test_id("agent-deactivate").click()
        row.get_by_test_id("agent-confirm").click()
        admin.wait_for_selector(
            f'[data-testid="agents-row"][data-login="{logins["agent"]}"][data-active="false"]',
            timeout=TIMEOUT,
        )
        # The agent's console learns it through its socket (1008) and shows the log-in form.
        agent.get_by_test_id("login-expired").wait_for(timeout=TIMEOUT)
        assert "登录已过期" in agent.get_by_test_id("login-form").inner_text()

        row.get_by_test_id("agent-reactivate").click()
        admin.wait_for_selector(
            f'[data-testid="agents-row"][data-login="{logins["agent"]}"][data-active="true"]',
            timeout=TIMEOUT,
        )
        row.get_by_test_id("agent-reset").click()
        row.get_by_test_id("agent-reset-generate").click()
        generated = admin.get_by_test_id("generated-password")
        generated.wait_for(timeout=TIMEOUT)
        password = generated.inner_text().strip()
        assert len(password) >= 18
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        admin.screenshot(path=str(SCREENSHOTS / "console-agents.png"))
        _log_in(agent, base, logins["agent"], password)


def test_an_agent_changes_their_password(console):
    base = console.base
    with chromium() as browser:
        page = browser.new_context(locale="en-US").new_page()
        app_login = console.new_agent()
        _log_in(page, base, app_login)
        page.get_by_test_id("change-password-button").click()
        dialog = page.get_by_test_id("change-password-dialog")
        dialog.wait_for(timeout=TIMEOUT)
        page.get_by_test_id("password-current").fill(PASSWORD)
        page.get_by_test_id("password-new").fill("short")
        page.get_by_test_id("password-repeat").fill("short")
        page.get_by_test_id("password-submit").click()
        assert "at least 10" in page.get_by_test_id("password-error").inner_text()
        page.get_by_test_id("password-current").fill("not my password")
        page.get_by_test_id("password-new").fill("a fresh passphrase")
        page.get_by_test_id("password-repeat").fill("a fresh passphrase")
        page.get_by_test_id("password-submit").click()
        page.wait_for_selector(
            '[data-testid="password-error"]:has-text("current password is wrong")',
            timeout=TIMEOUT,
        )
        page.get_by_test_id("password-current").fill(PASSWORD)
        page.get_by_test_id("password-submit").click()
        page.get_by_test_id("login-password-changed").wait_for(timeout=TIMEOUT)
        _log_in(page, base, app_login, "a fresh passphrase")
