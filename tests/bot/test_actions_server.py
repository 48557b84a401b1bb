"""The action server runs actions only for Rasa: a shared token, compared in constant time.

The real server (bound to loopback, refusing a forged tracker) is attacked in
tests/e2e/test_security.py; here the rules and the start-up refusal.
"""

from __future__ import annotations

import os
import subprocess
import warnings

import actions_server
import pytest

from devtools.config import ROOT, LauncherSettings


def test_rasa_sdk_warns_about_versions_except_for_the_tested_rasa():
    from rasa_sdk import endpoint, utils

    actions_server.accept_tested_rasa()
    actions_server.accept_tested_rasa()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        utils.check_version_compatibility("3.6.21")  # the pair the e2e tests run
    for other in ("3.7.0", None):
        with pytest.warns(UserWarning, match="rasa"):
            utils.check_version_compatibility(other)
    assert endpoint.utils.check_version_compatibility is utils.check_version_compatibility


def test_tokens_come_from_a_comma_separated_setting():
    assert actions_server.tokens_from(" new ,old,, ") == ["new", "old"]


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("Bearer new", True),
        ("bearer old", True),  # the scheme is case-insensitive (RFC 7235)
        ("Bearer other", False),
        ("Bearer ", False),
        ("Basic new", False),
        ("new", False),
        ("", False),
        (None, False),
    ],
)
def test_only_a_current_or_rotating_token_is_accepted(header, accepted):
    assert actions_server.authorized(header, ["new", "old"]) is accepted


def test_the_server_does_not_start_without_a_token():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (actions_server.TOKEN_VARIABLE, actions_server.ACCEPTED_VARIABLE)
    }
    done = subprocess.run(
        [str(LauncherSettings().services_python), "-m", "actions_server", "--actions", "actions"],
        cwd=ROOT / "bot",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "CSA_ACTIONS_TOKEN is empty" in done.stderr
