"""The website widget's own checks: its TypeScript unit tests and what its source may not do.

The specs sit beside the code (``web_widget/src/**/*.test.ts``) and run with node's own test
runner (``npm test``: type-check and emit with TypeScript, then ``node --test``), about a
second. The browser behaviour against the real servers is in ``tests/e2e/test_widget.py``.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess

import pytest

from devtools import frontend

WIDGET = frontend.WIDGET.source


def test_typescript_unit_tests_pass():
    npm = shutil.which("npm")
    if npm is None or not (WIDGET / "node_modules").is_dir():
        pytest.fail("run `make setup` first: it installs the widget's npm packages")
    result = subprocess.run(
        [npm, "test", "--silent"],
        cwd=WIDGET,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    summary = "\n".join(line for line in result.stdout.splitlines() if line.startswith("# "))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.M)
    assert passed and int(passed.group(1)) >= 30, summary


def test_source_never_renders_html_or_loads_from_elsewhere():
    """Text goes into JSX text nodes only; nothing is fetched from a CDN or font service."""
    forbidden = re.compile(r"innerHTML|outerHTML|dangerouslySetInnerHTML|insertAdjacentHTML|eval\(")
    remote = re.compile(r"""(?:import|from|@import|url\()\s*['"(]?https?://""")
    offenders = []
    for path in sorted((WIDGET / "src").rglob("*")):
        if path.suffix not in {".ts", ".tsx", ".css"} or path.name.endswith(".test.ts"):
            continue
        text = path.read_text()
        if forbidden.search(text) or remote.search(text):
            offenders.append(path.relative_to(WIDGET).as_posix())
    assert not offenders


def test_the_bundle_is_one_script_within_budget():
    out = frontend.WIDGET.out_dir()
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["widget.js"]
    size = len(gzip.compress((out / "widget.js").read_bytes(), compresslevel=9))
    assert size <= 60 * 1024, f"widget.js is {size / 1024:.1f} KB gzipped"
