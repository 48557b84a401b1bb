"""honcho stops its processes on SIGTERM even when nobody reads its output any more.

The launcher killed outright closes the pipe honcho writes to; the parent-death signal reaches
honcho around the same moment. Which comes first depends on how the kernel tears the launcher's
threads down (it differed between machines), so the pipe is closed here first, on purpose.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from devtools.config import ROOT
from devtools.ports import process_tree
from tests.utils.processes import pid_alive


def _honcho_with_its_output_gone(tmp_path, module: str) -> tuple[subprocess.Popen, set[int]]:
    """honcho running two sleepers, its stdout a pipe whose reader has been closed."""
    procfile = tmp_path / "Procfile"
    procfile.write_text("alpha: sleep 300\nbeta: sleep 300\n")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "start", "-f", str(procfile), "-d", str(tmp_path)],
        cwd=ROOT,
        stdout=write_end,
        stderr=write_end,
        start_new_session=True,
    )
    os.close(write_end)
    # honcho's own process, one worker per entry, and a shell and a sleeper under each
    deadline = time.monotonic() + 30
    while len(process_tree(proc.pid)) < 7 and time.monotonic() < deadline:
        time.sleep(0.1)
    below = set(process_tree(proc.pid)[1:])
    assert len(below) >= 6, below
    os.close(read_end)
    return proc, below


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc process tree")
def test_sigterm_stops_every_process_though_the_output_is_gone(tmp_path):
    proc, below = _honcho_with_its_output_gone(tmp_path, "devtools.honcho_main")
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and [pid for pid in below if pid_alive(pid)]:
            time.sleep(0.1)
        assert not [pid for pid in below if pid_alive(pid)], below
    finally:
        for pid in [proc.pid, *below]:  # honcho, its workers and their sessions, if still there
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
