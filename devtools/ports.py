"""Local processes from Linux's /proc: which one holds a TCP port, and a process's tree."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

__all__ = [
    "describe_process",
    "pid_listening_on",
    "port_in_use",
    "process_ids",
    "process_parents",
    "process_tree",
]


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
    return inodes


def process_ids() -> list[int]:
    """Every process id in /proc."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def process_parents() -> dict[int, int]:
    """``{pid: parent pid}`` of every process that can be read."""
    parents = {}
    for pid in process_ids():
        with contextlib.suppress(OSError, IndexError, ValueError):
            # pid (comm) state ppid …: comm may hold spaces, so split after its last ')'
            stat = Path(f"/proc/{pid}/stat").read_text()
            parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def process_tree(root: int, parents: dict[int, int] | None = None) -> list[int]:
    """``root`` and every process below it (``parents`` from :func:`process_parents`)."""
    parents = process_parents() if parents is None else parents
    found, frontier = [root], [root]
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier]
        found.extend(children)
        frontier = children
    return found


def pid_listening_on(port: int) -> int | None:
    """The process that owns the listening socket of ``port`` (None if none, or not ours)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return None
    owners = []
    for pid in process_ids():
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                        owners.append(pid)
                        break
    return min(owners) if owners else None  # a forked worker shares it with its parent


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def describe_process(pid: int) -> str:
    """``1234 (python -m rasa run …)``: the pid and its command line, cut to 120 characters."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return str(pid)
    command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return f"{pid} ({command[:117] + '...' if len(command) > 120 else command})"
