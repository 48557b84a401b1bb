"""The bridge serves the built agent console at /console/ (single-page app)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from crm_bridge.api.console_static import IMMUTABLE, mount_console
from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from devtools import frontend
from devtools.config import ROOT
from tests.utils.browser import chromium, require_chromium, serve

INDEX = "<!doctype html><title>console</title><div id=app></div>"
SCRIPT = "console.log('console');"


def _build(directory: Path) -> Path:
    (directory / "assets").mkdir(parents=True)
    (directory / "index.html").write_text(INDEX)
    (directory / "assets" / "index-Ab12Cd34.js").write_text(SCRIPT)
    (directory / frontend.STAMP_NAME).write_text('{"hash": "x"}')
    return directory


@pytest.fixture
def console_client(tmp_path) -> Iterator[TestClient]:
    """The bridge app (factory) with a fake built console in its var dir."""
    _build(tmp_path / "var" / "console")
    (tmp_path / "secret.txt").write_text("secret")
    settings = Settings(VAR_DIR=tmp_path / "var", EVENTS_SOURCE="none")
    with TestClient(create_app(settings)) as client:
        yield client


def test_index_is_served_and_revalidated(console_client):
    response = console_client.get("/console/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_console_without_slash_redirects(console_client):
    response = console_client.get("/console", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/console/"


@pytest.mark.parametrize("path", ["handoffs/12", "handoffs/12/", "some/client/route"])
def test_unknown_paths_answer_the_index_for_client_routing(console_client, path):
    response = console_client.get(f"/console/{path}")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["cache-control"] == "no-cache"


def test_hashed_assets_are_cached_for_a_year(console_client):
    response = console_client.get("/console/assets/index-Ab12Cd34.js")
    assert response.status_code == 200
    assert response.text == SCRIPT
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == IMMUTABLE
    assert "max-age=31536000" in IMMUTABLE
    assert console_client.head("/console/assets/index-Ab12Cd34.js").status_code == 200


@pytest.mark.parametrize(
    "path", ["assets/index-missing.js", "favicon.ico", f"{frontend.STAMP_NAME}", "assets/.x"]
)
def test_missing_or_hidden_files_are_404_not_the_app(console_client, path):
    response = console_client.get(f"/console/{path}")
    assert response.status_code == 404
    assert "hash" not in response.text


@pytest.mark.parametrize(
    "path", ["..%2Fsecret.txt", "%2E%2E/secret.txt", "assets/..%2F..%2Fsecret.txt"]
)
def test_nothing_outside_the_console_folder_is_served(console_client, path):
    response = console_client.get(f"/console/{path}")
    assert "secret" not in response.text


@pytest.mark.parametrize(
    ("path", "status"), [("%00", 200), ("a%00.js", 404), ("a/" * 3000 + "x.js", 404)]
)
def test_names_the_file_system_refuses_are_no_server_error(console_client, path, status):
    # A NUL byte or a name longer than the file system allows made the bridge answer 500.
    assert console_client.get(f"/console/{path}").status_code == status


def test_api_and_health_are_unaffected(console_client):
    assert console_client.get("/health").status_code == 200
    assert console_client.get("/api/v1/agents/me").status_code == 401
    paths = console_client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/console")]


def test_not_built_answers_503_with_what_to_do(tmp_path):
    app = FastAPI()
    mount_console(app, tmp_path / "never-built")
    with TestClient(app) as client:
        for path in ("/console/", "/console/handoffs/3"):
            response = client.get(path)
            assert response.status_code == 503
            assert "make setup" in response.text
            assert response.headers["cache-control"] == "no-store"


def test_a_build_made_while_running_is_served_without_restart(tmp_path):
    app = FastAPI()
    mount_console(app, tmp_path / "console")
    with TestClient(app) as client:
        assert client.get("/console/").status_code == 503
        _build(tmp_path / "console")
        assert client.get("/console/").text == INDEX


def test_console_dir_setting(tmp_path):
    assert Settings(VAR_DIR=tmp_path).console_dir == tmp_path / "console"
    assert Settings(VAR_DIR=tmp_path, CONSOLE_DIR="var/x").console_dir == ROOT / "var" / "x"
    assert Settings(CONSOLE_DIR=tmp_path / "c").console_dir == tmp_path / "c"


@pytest.mark.slow
def test_real_console_in_chromium_logs_in_form_and_language_switch(tmp_path):
    """The whole chain: npm build -> bridge static mount -> chromium renders the log-in form."""
    require_chromium()
    built = frontend.build_console()  # a no-op when `make setup` has built it
    settings = Settings(VAR_DIR=tmp_path, EVENTS_SOURCE="none", CONSOLE_DIR=built)
    screenshots = ROOT / "var" / "artifacts" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    with serve(create_app(settings)) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="en-US")
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(f"{base}/console/")
        form = page.get_by_test_id("login-form")
        form.wait_for()
        assert page.get_by_test_id("login-username").is_visible()
        assert page.get_by_test_id("login-password").get_attribute("type") == "password"
        toggle = page.get_by_test_id("language-toggle")
        assert toggle.get_attribute("data-locale") == "en"
        assert "Agent console log-in" in form.inner_text()
        toggle.click()
        page.wait_for_selector('[data-testid="language-toggle"][data-locale="zh"]')
        assert "客服工作台登录" in form.inner_text()
        assert page.get_by_test_id("login-submit").inner_text() == "登录"
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        assert page.evaluate("localStorage.getItem('csa-console-locale')") == "zh"
        page.screenshot(path=str(screenshots / "console-login.png"))
        page.reload()  # the choice is remembered
        page.wait_for_selector('[data-testid="language-toggle"][data-locale="zh"]')
        assert not errors, errors
