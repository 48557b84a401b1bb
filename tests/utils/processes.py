"""Helpers for tests that start real processes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx

STARTED = re.compile(r"(?P<name>[\w-]+)\.\d+ started \(pid=(?P<pid>\d+)\)")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_text(log: Path, text: str, proc, timeout: float) -> str:  # noqa: ANN001
    """Wait until ``text`` appears in ``log``; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace") if log.exists() else ""
        if text in content:
            return content
        if proc.poll() is not None:
            raise AssertionError(
                f"process exited ({proc.returncode}) before {text!r}:\n{content[-4000:]}"
            )
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not seen within {timeout} s:\n{log.read_text()[-4000:]}")


def started_pids(output: str) -> dict[str, int]:
    """PIDs honcho reported for each process."""
    return {m.group("name"): int(m.group("pid")) for m in STARTED.finditer(output)}


def listening_addresses(output: str) -> list[str]:
    """Local addresses (``127.0.0.1:5005``) that the processes of a launcher's log listen on.

    The processes honcho started and every descendant (restart wrappers' children, workers).
    """
    tree = set(started_pids(output).values())
    table = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    pairs = [tuple(map(int, line.split())) for line in table.splitlines() if line.strip()]
    while (grown := tree | {pid for pid, parent in pairs if parent in tree}) != tree:
        tree = grown
    sockets = subprocess.run(["ss", "-Hltnup"], capture_output=True, text=True).stdout
    return [
        line.split()[4]
        for line in sockets.splitlines()
        if any(f"pid={pid}," in line for pid in tree)
    ]


def pid_alive(pid: int) -> bool:
    """True if a process with this PID exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def healthy(url: str, **params: str) -> bool:
    """True if ``url`` answers 200 (a health check); False if it errs or cannot be reached."""
    try:
        return httpx.get(url, params=params, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
