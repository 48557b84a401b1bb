"""The agent console's own checks: its TypeScript unit tests and what its source may not do.

The specs sit beside the code (``crm_bridge/console/src/**/*.test.ts``) and run with node's own
test runner (``npm test``: type-check and emit with TypeScript, then ``node --test``), about a
second. The browser behaviour is in ``tests/crm_bridge/api/test_console_browser.py`` and
``tests/e2e/test_live_handoff.py``.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from devtools import frontend

CONSOLE = frontend.CONSOLE.source


def _sources() -> list:
    return [
        path
        for path in sorted((CONSOLE / "src").rglob("*"))
        if path.suffix in {".ts", ".tsx"} and not path.name.endswith(".test.ts")
    ]


def test_typescript_unit_tests_pass():
    npm = shutil.which("npm")
    if npm is None or not (CONSOLE / "node_modules").is_dir():
        pytest.fail("run `make setup` first: it installs the console's npm packages")
    result = subprocess.run(
        [npm, "test", "--silent"],
        cwd=CONSOLE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    summary = "\n".join(line for line in result.stdout.splitlines() if line.startswith("# "))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.M)
    assert passed and int(passed.group(1)) >= 20, summary


def test_source_never_renders_html():
    """Text goes into JSX text nodes only (Preact escapes it)."""
    forbidden = re.compile(r"innerHTML|outerHTML|dangerouslySetInnerHTML|insertAdjacentHTML|eval\(")
    offenders = [
        p.relative_to(CONSOLE).as_posix() for p in _sources() if forbidden.search(p.read_text())
    ]
    assert not offenders


def test_the_access_token_is_never_stored_in_the_browser():
    """Memory only: a script injected into the page cannot read it from web storage later."""
    offenders = [
        p.relative_to(CONSOLE).as_posix()
        for p in _sources()
        if "sessionStorage" in p.read_text() or "document.cookie" in p.read_text()
    ]
    assert not offenders
    stored = [
        p.relative_to(CONSOLE).as_posix()
        for p in _sources()
        for key in re.findall(r"localStorage\.setItem\(\s*([^,]+),", p.read_text())
        if key.strip() not in ("LOCALE_STORAGE_KEY", "SESSION_HINT_KEY")
    ]
    assert not stored, "only the UI language and a has-a-session hint are in localStorage"
