"""``python -m rasa_server`` gives Rasa its API token from the environment, never argv."""

from __future__ import annotations

import os
import subprocess

import pytest
import rasa_server

from devtools.config import ROOT, LauncherSettings


def test_the_token_is_added_to_the_run_command():
    argv = ["run", "--enable-api", "--port", "5005"]
    assert rasa_server.with_token(argv, "s3cret") == [*argv, "--auth-token=s3cret"]


def test_without_the_api_nothing_is_added():
    assert rasa_server.with_token(["run", "--port", "5005"], "") == ["run", "--port", "5005"]


@pytest.mark.parametrize("given", [["--auth-token", "x"], ["--auth-token=x"]])
def test_a_token_on_the_command_line_is_refused(given):
    with pytest.raises(SystemExit, match="CSA_RASA_TOKEN"):
        rasa_server.with_token(["run", "--enable-api", *given], "s3cret")


def test_the_api_without_a_token_does_not_start():
    env = {k: v for k, v in os.environ.items() if k != "CSA_RASA_TOKEN"}
    done = subprocess.run(
        [str(LauncherSettings().bot_python), "-m", "rasa_server", "run", "--enable-api"],
        cwd=ROOT / "bot",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "CSA_RASA_TOKEN is empty" in done.stderr
