"""The launcher stops everything on Ctrl-C, and names the process that died.

These run the real launcher and honcho with a Procfile of small shell processes, so the
failure paths are exercised in seconds; tests/e2e runs it with the real three servers.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from devtools.config import ROOT
from devtools.ports import process_tree
from devtools.run import READY_LINE
from tests.utils.processes import free_port, pid_alive, started_pids, wait_for_text


@pytest.fixture
def launch(tmp_path):
    procs = []

    def start(procfile_text: str) -> tuple[subprocess.Popen, object]:
        procfile = tmp_path / "Procfile"
        procfile.write_text(procfile_text)
        log = tmp_path / "launcher.log"
        out = open(log, "w")  # noqa: SIM115 - closed by the fixture
        proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.run", "--no-train", "--procfile", str(procfile)],
            cwd=ROOT,
            env={**os.environ, "CSA_VAR_DIR": str(tmp_path / "var")},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append((proc, out))
        return proc, log

    yield start
    for proc, out in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()


def test_ctrl_c_stops_every_process(launch):
    proc, log = launch("alpha: sleep 300\nbeta: sleep 300\n")
    wait_for_text(log, READY_LINE, proc, timeout=60)
    # honcho reports the starts in whatever order its threads run.
    wait_for_text(log, "alpha.1 started", proc, timeout=30)
    pids = started_pids(wait_for_text(log, "beta.1 started", proc, timeout=30))
    assert set(pids) == {"alpha", "beta"}
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    time.sleep(0.2)
    assert not [pid for pid in pids.values() if pid_alive(pid)]
    assert "[run] stopped" in log.read_text()


def test_a_dying_process_stops_the_others_and_is_named(launch, monkeypatch):
    monkeypatch.setenv("CSA_RESTART_LIMIT", "1")  # one restart, then the system stops
    proc, log = launch(
        "alpha: sleep 300\n"
        "beta: echo 'beta starting'; sleep 2; echo 'fatal: disk full' >&2; exit 3\n"
    )
    rc = proc.wait(timeout=60)
    output = log.read_text()
    assert rc == 3, output
    assert "process 'beta' stopped (exit code 3)" in output
    assert "last lines of 'beta'" in output
    tail = output.split("last lines of 'beta'")[1]
    assert "fatal: disk full" in tail
    assert not pid_alive(started_pids(output)["alpha"])


def _pids_said(output: str, name: str) -> list[int]:
    return [int(pid) for pid in re.findall(rf"{name} pid (\d+)", output)]


def test_a_process_killed_once_the_system_is_up_is_started_again(launch):
    proc, log = launch('alpha: sleep 300\nbeta: echo "beta pid $$"; exec sleep 300\n')
    output = wait_for_text(log, "beta pid", proc, timeout=60)
    wait_for_text(log, READY_LINE, proc, timeout=60)
    first = _pids_said(output, "beta")[0]
    os.kill(first, signal.SIGKILL)
    output = wait_for_text(log, "beta: died (signal SIGKILL)", proc, timeout=30)
    deadline = time.monotonic() + 30
    while len(_pids_said(output, "beta")) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        output = log.read_text()
    second = _pids_said(output, "beta")[1]
    assert second != first and pid_alive(second)
    assert proc.poll() is None, "the launcher keeps running"
    assert "restart 1 of at most 5" in output
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    time.sleep(0.2)
    assert not pid_alive(second)
    assert not [pid for pid in started_pids(output).values() if pid_alive(pid)]


def test_a_crash_loop_stops_the_system_and_is_named(launch, monkeypatch):
    monkeypatch.setenv("CSA_RESTART_LIMIT", "2")
    proc, log = launch("alpha: sleep 300\nbeta: sleep 2; echo 'fatal: bad config' >&2; exit 4\n")
    rc = proc.wait(timeout=60)
    output = log.read_text()
    assert rc == 4, output
    relayed = output.split("[run] error")[0]  # before the launcher repeats the tail
    assert relayed.count("beta: died (exit code 4) after") == 2
    assert "restarts within 300 s, giving up" in output
    assert "process 'beta' stopped (exit code 4)" in output
    assert not pid_alive(started_pids(output)["alpha"])


def test_restarting_can_be_switched_off(launch, monkeypatch):
    monkeypatch.setenv("CSA_RESTART_CRASHED", "false")
    proc, log = launch("alpha: sleep 300\nbeta: sleep 3; exit 5\n")
    wait_for_text(log, READY_LINE, proc, timeout=60)
    assert proc.wait(timeout=60) == 5
    assert "[restart]" not in log.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux")
def test_a_launcher_killed_outright_leaves_no_process_behind(launch):
    proc, log = launch("alpha: sleep 300\nbeta: sleep 300\n")
    wait_for_text(log, READY_LINE, proc, timeout=60)
    wait_for_text(log, "alpha.1 started", proc, timeout=30)
    wait_for_text(log, "beta.1 started", proc, timeout=30)
    below = set(process_tree(proc.pid)[1:])
    # honcho, two restart wrappers and the two servers at least
    assert len(below) >= 5, below
    proc.kill()  # the launcher alone, as a closed terminal or the OOM killer would
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and [pid for pid in below if pid_alive(pid)]:
        time.sleep(0.2)
    assert not [pid for pid in below if pid_alive(pid)], below


def test_a_busy_port_is_named_with_its_process_before_anything_starts(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "devtools.run", "--no-train"],
            cwd=ROOT,
            env={
                **os.environ,
                "CSA_VAR_DIR": str(tmp_path / "var"),
                "CSA_RASA_PORT": str(port),
                "CSA_ACTIONS_PORT": str(free_port()),
                "CSA_BRIDGE_PORT": str(free_port()),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"port {port} (Rasa) is in use, held by process {os.getpid()} (" in done.stderr
    assert f"kill {os.getpid()}" in done.stderr and "nothing was started" in done.stderr
    assert not (tmp_path / "var" / "run").exists()  # nothing was prepared or started


WARNING_PROCFILE = (
    "alpha: printf '/v/lib/python3.10/site-packages/lib.py:3: DeprecationWarning: old api\\n"
    "  old_api()\\n/w/project/own.py:9: DeprecationWarning: ours\\n  ours()\\n"
    "/v/site-packages/x.py:1: FutureWarning: soon\\n"
    "2026-12-07 10:00:00 INFO logged right after a warning without source\\n"
    "own line\\n'; sleep 300\n"
)


@pytest.mark.parametrize("show", [False, True])
def test_library_warnings_are_hidden_unless_asked_for(launch, monkeypatch, show):
    if show:
        monkeypatch.setenv("CSA_SHOW_LIBRARY_WARNINGS", "true")
    proc, log = launch(WARNING_PROCFILE)
    wait_for_text(log, READY_LINE, proc, timeout=60)
    output = wait_for_text(log, "own line", proc, timeout=30)
    assert ("old api" in output) is show and ("old_api()" in output) is show
    assert "DeprecationWarning: ours" in output and "ours()" in output  # the project's own
    assert ("soon" in output) is show and "logged right after a warning" in output
