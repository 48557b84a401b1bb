"""The set-up finds Python 3.10 by itself, or says what to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devtools import bootstrap
from devtools.config import ROOT


def _fake_python(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def test_missing_python_310_stops_with_what_to_install(tmp_path):
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    result = subprocess.run(
        [sys.executable, str(ROOT / "devtools" / "bootstrap.py"), "--find-python", "3.10"],
        env={"PATH": str(empty_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Python 3.10 is required but was not found" in result.stderr
    assert "pyenv install 3.10" in result.stderr
    assert "apt-get install python3.10" in result.stderr
    assert "CSA_PYTHON_3_10" in result.stderr
    assert str(tmp_path / ".pyenv" / "versions") in result.stderr


def test_broken_shim_on_path_is_skipped_for_pyenv_version(tmp_path):
    shims = tmp_path / "shims"
    shim = shims / "python3.10"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.10: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    older = _fake_python(tmp_path / "pyenv" / "versions" / "3.10.2" / "bin" / "python3.10", "3.10")
    newer = _fake_python(tmp_path / "pyenv" / "versions" / "3.10.13" / "bin" / "python3.10", "3.10")
    found = bootstrap.find_python(
        "3.10", {"PATH": str(shims), "PYENV_ROOT": str(tmp_path / "pyenv"), "HOME": str(tmp_path)}
    )
    assert found == str(newer) != str(older)


def test_working_python_on_path_comes_first(tmp_path):
    on_path = _fake_python(tmp_path / "bin" / "python3.10", "3.10")
    _fake_python(tmp_path / ".pyenv" / "versions" / "3.10.13" / "bin" / "python3.10", "3.10")
    assert bootstrap.find_python(
        "3.10", {"PATH": str(on_path.parent), "HOME": str(tmp_path)}
    ) == str(on_path)


def test_interpreter_of_the_wrong_version_is_not_taken(tmp_path):
    wrong = _fake_python(tmp_path / "bin" / "python3.10", "3.9")
    env = {"PATH": str(wrong.parent), "HOME": str(tmp_path), "CSA_PYTHON_3_10": str(wrong)}
    try:
        bootstrap.find_python("3.10", env)
    except bootstrap.SetupError as err:
        assert "not found" in str(err)
    else:
        raise AssertionError("a Python 3.9 was accepted as 3.10")


def test_env_hash_follows_the_requirement_files(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("rasa==3.6.21\n")
    spec = bootstrap.EnvSpec("bot", "3.10", (requirements,), ("-r", str(requirements)))
    first = bootstrap.spec_hash(spec, "3.10.13")
    assert bootstrap.spec_hash(spec, "3.10.13") == first
    assert bootstrap.spec_hash(spec, "3.10.14") != first
    requirements.write_text("rasa==3.6.21\njieba==0.42.1\n")
    assert bootstrap.spec_hash(spec, "3.10.13") != first


def test_second_setup_is_a_no_op():
    """`make test` has just set both envs up: running the set-up again changes nothing."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "devtools" / "bootstrap.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "bot env up to date" in result.stdout
    assert "services env up to date" in result.stdout
    assert "pip" not in result.stdout
