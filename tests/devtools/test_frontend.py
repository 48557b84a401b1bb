"""The front-end builds run npm only when their inputs changed (no npm needed for these tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools import frontend
from devtools.config import ROOT

FAKE_NPM = """#!/bin/sh
# Records its arguments (and folder); "run build" writes a bundle like Vite does: the widget
# (a folder named web_widget) into CSA_WIDGET_OUT_DIR, the console into CSA_CONSOLE_OUT_DIR.
echo "$*" >> "$NPM_LOG"
echo "$(basename "$PWD") $*" >> "$NPM_LOG.where"
if [ "$1" = "ci" ]; then mkdir -p node_modules; fi
if [ "$1 $2" = "run build" ] && [ "$(basename "$PWD")" = "web_widget" ]; then
  rm -rf "$CSA_WIDGET_OUT_DIR" && mkdir -p "$CSA_WIDGET_OUT_DIR"
  echo '(function(){})();' > "$CSA_WIDGET_OUT_DIR/widget.js"
elif [ "$1 $2" = "run build" ]; then
  rm -rf "$CSA_CONSOLE_OUT_DIR" && mkdir -p "$CSA_CONSOLE_OUT_DIR/assets"
  echo '<!doctype html>' > "$CSA_CONSOLE_OUT_DIR/index.html"
fi
"""


def _console(root: Path) -> Path:
    source = root / "console"
    (source / "src" / "components").mkdir(parents=True)
    (source / "package.json").write_text('{"name": "c"}')
    (source / "package-lock.json").write_text('{"lockfileVersion": 3}')
    (source / "index.html").write_text("<div id=app></div>")
    (source / "vite.config.ts").write_text("export default {};")
    (source / "tsconfig.json").write_text("{}")
    (source / "src" / "main.tsx").write_text("render();")
    (source / "src" / "components" / "Queue.tsx").write_text("export {};")
    return source


@pytest.fixture
def source(tmp_path) -> Path:
    return _console(tmp_path)


@pytest.fixture
def npm_env(tmp_path) -> dict[str, str]:
    """PATH with only a fake npm (and sh's basic tools), logging its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(0o755)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "NPM_LOG": str(tmp_path / "npm.log")}


def _npm_calls(env: dict[str, str]) -> list[str]:
    log = Path(env["NPM_LOG"])
    calls = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return calls


def test_input_hash_follows_every_input_file(source):
    first = frontend.input_hash(source)
    assert frontend.input_hash(source) == first
    changes = [
        ("src/components/Queue.tsx", "export const x = 1;"),
        ("src/new/Thing.tsx", "export {};"),
        ("package-lock.json", '{"lockfileVersion": 3, "x": 1}'),
        ("package.json", '{"name": "d"}'),
        ("vite.config.ts", "export default {base: '/'};"),
        ("tsconfig.json", '{"strict": true}'),
        ("index.html", "<div></div>"),
    ]
    seen = {first}
    for name, text in changes:
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        digest = frontend.input_hash(source)
        assert digest not in seen, f"changing {name} did not change the hash"
        seen.add(digest)


def test_renaming_a_file_changes_the_hash(source):
    first = frontend.input_hash(source)
    (source / "src" / "main.tsx").rename(source / "src" / "index.tsx")
    assert frontend.input_hash(source) != first


def test_outputs_and_dependencies_do_not_count(source):
    first = frontend.input_hash(source)
    (source / "node_modules" / "vite").mkdir(parents=True)
    (source / "node_modules" / "vite" / "index.js").write_text("x")
    (source / "README.md").write_text("docs")
    (source / "API.md").write_text("contract")
    assert frontend.input_hash(source) == first


def test_build_decision_follows_the_stamp(source, tmp_path):
    out = tmp_path / "out"
    assert frontend.needs_build(source, out)
    out.mkdir()
    (out / "index.html").write_text("x")
    assert frontend.needs_build(source, out)  # no stamp
    (out / frontend.STAMP_NAME).write_text(json.dumps({"hash": frontend.input_hash(source)}))
    assert not frontend.needs_build(source, out)
    (out / "index.html").unlink()
    assert frontend.needs_build(source, out)  # stamp without a bundle
    (out / "index.html").write_text("x")
    (source / "src" / "main.tsx").write_text("render(2);")
    assert frontend.needs_build(source, out)
    (out / frontend.STAMP_NAME).write_text("not json")
    assert frontend.needs_build(source, out)


def test_install_decision_follows_the_lock_file(source):
    assert frontend.needs_install(source)
    stamp = source / frontend.INSTALL_STAMP
    stamp.parent.mkdir(parents=True)
    stamp.write_text(json.dumps({"hash": frontend.lock_hash(source)}))
    assert not frontend.needs_install(source)
    (source / "src" / "main.tsx").write_text("render(3);")
    assert not frontend.needs_install(source)
    (source / "package-lock.json").write_text('{"lockfileVersion": 3, "y": 2}')
    assert frontend.needs_install(source)


def test_npm_runs_only_for_what_changed(source, tmp_path, npm_env, capsys):
    out = tmp_path / "var" / "console"
    assert frontend.build_console(source=source, out=out, environ=npm_env) == out
    assert _npm_calls(npm_env) == ["ci --no-audit --no-fund", "run build"]
    assert (out / "index.html").is_file()

    started = time.monotonic()
    frontend.build_console(source=source, out=out, environ=npm_env)
    assert time.monotonic() - started < 0.5
    assert _npm_calls(npm_env) == []
    assert "console up to date" in capsys.readouterr().out

    (source / "src" / "main.tsx").write_text("render('changed');")
    frontend.build_console(source=source, out=out, environ=npm_env)
    assert _npm_calls(npm_env) == ["run build"]

    (source / "package-lock.json").write_text('{"lockfileVersion": 3, "z": 3}')
    frontend.build_console(source=source, out=out, environ=npm_env)
    assert _npm_calls(npm_env) == ["ci --no-audit --no-fund", "run build"]

    frontend.build_console(force=True, source=source, out=out, environ=npm_env)
    assert _npm_calls(npm_env) == ["ci --no-audit --no-fund", "run build"]


def test_failed_build_leaves_no_stamp(source, tmp_path, npm_env):
    out = tmp_path / "out"
    frontend.build_console(source=source, out=out, environ=npm_env)
    failing = Path(npm_env["PATH"].split(":")[0]) / "npm"
    failing.write_text("#!/bin/sh\nexit 3\n")
    (source / "src" / "main.tsx").write_text("broken(")
    with pytest.raises(frontend.FrontendError, match="exit code 3"):
        frontend.build_console(source=source, out=out, environ=npm_env)
    assert frontend.needs_build(source, out)


def test_missing_npm_says_what_to_install(source, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(frontend.FrontendError) as err:
        frontend.build_console(source=source, out=tmp_path / "out", environ={"PATH": str(empty)})
    assert "npm" in str(err.value) and "Node.js" in str(err.value)
    assert "apt-get install nodejs npm" in str(err.value)


def test_out_dir_setting():
    assert frontend.out_dir({}) == ROOT / "var" / "console"
    assert frontend.out_dir({"CSA_CONSOLE_OUT_DIR": "var/x"}) == ROOT / "var" / "x"
    assert frontend.out_dir({"CSA_CONSOLE_OUT_DIR": "/tmp/c"}) == Path("/tmp/c")


def test_the_project_frontends_are_built_and_a_rerun_is_instant():
    """`make test` has just run the set-up: both front-ends are built and nothing needs npm."""
    assert not frontend.needs_build(frontend.CONSOLE_SOURCE, frontend.out_dir())
    assert not frontend.needs_build(frontend=frontend.WIDGET)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / "devtools" / "frontend.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PATH": "/nonexistent"},  # npm is not even looked for
    )
    assert result.returncode == 0, result.stderr
    assert "console up to date" in result.stdout
    assert "widget up to date" in result.stdout
    assert time.monotonic() - started < 1.0


def _widget(root: Path) -> Path:
    source = root / "web_widget"
    (source / "src" / "components").mkdir(parents=True)
    (source / "scripts").mkdir()
    (source / "package.json").write_text('{"name": "w"}')
    (source / "package-lock.json").write_text('{"lockfileVersion": 3}')
    (source / "vite.config.ts").write_text("export default {};")
    (source / "tsconfig.json").write_text("{}")
    (source / "tsconfig.test.json").write_text("{}")
    (source / "scripts" / "check-size.mjs").write_text("// budget")
    (source / "src" / "main.tsx").write_text("mount();")
    (source / "src" / "components" / "App.tsx").write_text("export {};")
    return source


def test_widget_hash_follows_its_size_check_and_test_config(tmp_path):
    source = _widget(tmp_path)
    seen = {frontend.input_hash(source)}
    for name, text in [
        ("scripts/check-size.mjs", "// budget 50"),
        ("tsconfig.test.json", '{"x": 1}'),
        ("src/model/messages.test.ts", "test();"),
    ]:
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        digest = frontend.input_hash(source)
        assert digest not in seen, f"changing {name} did not change the hash"
        seen.add(digest)
    (source / "README.md").write_text("docs")
    (source / "CONTRACT.md").write_text("contract")
    assert frontend.input_hash(source) in seen


def test_widget_build_decision_looks_for_widget_js(tmp_path):
    source = _widget(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / frontend.STAMP_NAME).write_text(json.dumps({"hash": frontend.input_hash(source)}))
    (out / "index.html").write_text("x")
    assert frontend.needs_build(source, out, frontend.WIDGET)
    (out / "widget.js").write_text("x")
    assert not frontend.needs_build(source, out, frontend.WIDGET)


def test_widget_npm_runs_only_for_what_changed(tmp_path, npm_env, capsys):
    source = _widget(tmp_path)
    out = tmp_path / "var" / "widget"
    assert frontend.build_widget(source=source, out=out, environ=npm_env) == out
    assert _npm_calls(npm_env) == ["ci --no-audit --no-fund", "run build"]
    assert (out / "widget.js").is_file() and not (out / "index.html").exists()
    frontend.build_widget(source=source, out=out, environ=npm_env)
    assert _npm_calls(npm_env) == []
    assert "widget up to date" in capsys.readouterr().out
    (source / "scripts" / "check-size.mjs").write_text("// budget 40")
    frontend.build_widget(source=source, out=out, environ=npm_env)
    assert _npm_calls(npm_env) == ["run build"]


def test_build_all_builds_each_frontend_in_its_folder(tmp_path, npm_env, monkeypatch):
    console = frontend.Frontend(
        "console", "agent console", _console(tmp_path), "CSA_CONSOLE_OUT_DIR", "c", "index.html"
    )
    widget = frontend.Frontend(
        "widget", "website widget", _widget(tmp_path), "CSA_WIDGET_OUT_DIR", "w", "widget.js"
    )
    monkeypatch.setattr(frontend, "FRONTENDS", (console, widget))
    env = {
        **npm_env,
        "CSA_CONSOLE_OUT_DIR": str(tmp_path / "out" / "console"),
        "CSA_WIDGET_OUT_DIR": str(tmp_path / "out" / "widget"),
    }
    where = Path(npm_env["NPM_LOG"] + ".where")
    outs = frontend.build_all(environ=env)
    assert outs == [tmp_path / "out" / "console", tmp_path / "out" / "widget"]
    assert where.read_text().splitlines() == [
        "console ci --no-audit --no-fund",
        "console run build",
        "web_widget ci --no-audit --no-fund",
        "web_widget run build",
    ]
    assert (outs[0] / "index.html").is_file() and (outs[1] / "widget.js").is_file()
    where.unlink()
    frontend.build_all(environ=env, only=["widget"], force=True)
    assert where.read_text().splitlines() == [
        "web_widget ci --no-audit --no-fund",
        "web_widget run build",
    ]


def test_widget_out_dir_setting():
    assert frontend.WIDGET.out_dir({}) == ROOT / "var" / "widget"
    assert frontend.out_dir({"CSA_WIDGET_OUT_DIR": "var/w"}, frontend.WIDGET) == ROOT / "var" / "w"
    assert frontend.WIDGET.out_dir({"CSA_CONSOLE_OUT_DIR": "/tmp/c"}) == ROOT / "var" / "widget"


def test_cli_builds_only_what_is_asked(monkeypatch):
    calls = []
    monkeypatch.setattr(frontend, "build", lambda fe, force, **kw: calls.append((fe.name, force)))
    assert frontend.main(["--only", "widget", "--force"]) == 0
    assert calls == [("widget", True)]
    calls.clear()
    assert frontend.main([]) == 0
    assert calls == [("console", False), ("widget", False)]
