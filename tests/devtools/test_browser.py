"""The browser tests' chromium is installed by apt-get only when missing, and only as root."""

from __future__ import annotations

import pytest

from devtools import browser


def test_browser_install_only_as_root_and_only_when_missing(tmp_path):
    calls = []

    def run(cmd, _env):
        calls.append(list(cmd))
        return 0

    present = tmp_path / "chromium"
    present.write_text("")
    assert browser.ensure_chromium(present, is_root=lambda: False, run=run, cjk_font=True)
    assert calls == []

    missing = tmp_path / "nothing"
    with pytest.raises(
        browser.BrowserError, match="apt-get install -y --no-install-recommends chromium"
    ):
        browser.ensure_chromium(missing, is_root=lambda: False, run=run, cjk_font=True)
    assert calls == []

    def install(cmd, _env):
        calls.append(list(cmd))
        if cmd[:2] == ("apt-get", "install") and len(calls) > 1:  # works after an update
            missing.write_text("")
            return 0
        return 0 if cmd[1] == "update" else 100

    assert browser.ensure_chromium(missing, is_root=lambda: True, run=install, cjk_font=False)
    install_cmd = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    install_cmd.append(browser.CJK_FONT_PACKAGE)
    assert calls == [install_cmd, ["apt-get", "update"], install_cmd]
