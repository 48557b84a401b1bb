"""Run a check script inside the bot env (Python 3.10 with Rasa), from ``bot/``."""

from __future__ import annotations

import subprocess

from devtools.config import ROOT, LauncherSettings


def run_check(script: str, done_line: str, timeout: float = 300) -> None:
    """Run ``script`` with the bot env's Python; fail unless it exits 0 and prints ``done_line``."""
    done = subprocess.run(
        [str(LauncherSettings().bot_python), "-c", script],
        cwd=ROOT / "bot",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done_line in done.stdout, done.stdout[-3000:]
