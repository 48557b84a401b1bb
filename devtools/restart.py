"""Start a server process again when it dies after the system was up.

The launcher runs every Procfile process through this wrapper::

    python -m devtools.restart --name bridge --ready-file var/run/ready -- sh -c 'exec …'

- Before the launcher has written the ready file (everything healthy), a process that exits
  ends the wrapper with the same exit code: a start-up failure stops everything and the
  launcher names it, as before.
- Afterwards a process that dies (a crash, SIGKILL, the out-of-memory killer) is started again
  after a pause that doubles from 1 s up to 30 s; a run that lasted ``--stable`` seconds resets
  the pause. More than ``--max-restarts`` restarts within ``--window`` seconds end the wrapper,
  and so the whole system: a crash loop must be seen, not hidden.
- SIGTERM, SIGINT and SIGHUP are passed on to the process and end the wrapper once it exits.
- The process runs in a process group of its own; whatever it forked is killed when it ends
  (systemd's ``KillMode=control-group``), so no orphaned worker keeps its port.
- The wrapper gets SIGTERM when its parent dies, and the process when the wrapper dies
  (``devtools.parent_death``): a launcher killed outright leaves nothing behind.

The same policy a service manager gives (systemd ``Restart=on-failure`` with a start limit,
Kubernetes' restart back-off), for the one-command local profiles.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from devtools.parent_death import die_with_parent

FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 30.0


def describe_exit(returncode: int) -> str:
    """``exit code 3`` or ``signal SIGKILL``."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class Keeper:
    """Runs one command and starts it again by the policy above."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        ready_file: Path | None,
        max_restarts: int,
        window_s: float,
        stable_s: float,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.ready_file = ready_file
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.stable_s = stable_s
        self.child: subprocess.Popen | None = None
        self.stopping = False
        self.restarts: collections.deque[float] = collections.deque()

    def _say(self, text: str) -> None:
        print(f"[restart] {self.name}: {text}", file=sys.stderr, flush=True)

    def _forward(self, signum: int, _frame: object) -> None:
        self.stopping = True
        if self.child is not None:
            self._signal_group(signum)

    def _signal_group(self, signum: int) -> None:
        """Signal the process and whatever it forked (its own process group)."""
        assert self.child is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.child.pid, signum)

    def _system_up(self) -> bool:
        return self.ready_file is not None and self.ready_file.exists()

    def _may_restart(self, now: float) -> bool:
        while self.restarts and now - self.restarts[0] > self.window_s:
            self.restarts.popleft()
        return len(self.restarts) < self.max_restarts

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.1)

    def run(self) -> int:
        """Run until stopped or given up; the exit code is the process's last one."""
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._forward)
        # honcho (or the launcher) killed outright: stop the server as on Ctrl-C, not live on
        die_with_parent(signal.SIGTERM)
        pause: float | None = None
        while True:
            started = time.monotonic()
            # A group of its own: workers it forked (Sanic's) die with it, as in a container,
            # instead of holding its port against the restarted process.
            self.child = subprocess.Popen(self.command, process_group=0, preexec_fn=die_with_parent)
            returncode = self.child.wait()
            self._signal_group(signal.SIGKILL)
            lasted = time.monotonic() - started
            if self.stopping:
                return 0 if returncode < 0 else returncode
            if not self._system_up():
                return returncode if returncode > 0 else 128 - returncode
            now = time.monotonic()
            if not self._may_restart(now):
                self._say(
                    f"died again ({describe_exit(returncode)}); {len(self.restarts)} restarts "
                    f"within {self.window_s:.0f} s, giving up (the launcher stops everything)"
                )
                return returncode if returncode > 0 else 128 - returncode
            if pause is None or lasted >= self.stable_s:
                pause = FIRST_PAUSE_S
            else:
                pause = min(pause * 2, MAX_PAUSE_S)
            self.restarts.append(now)
            self._say(
                f"died ({describe_exit(returncode)}) after {lasted:.0f} s; starting it again "
                f"in {pause:.0f} s (restart {len(self.restarts)} of at most "
                f"{self.max_restarts} within {self.window_s:.0f} s)"
            )
            self._wait(pause)
            if self.stopping:
                return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, then run the command after ``--``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the process's name, for log lines")
    parser.add_argument(
        "--ready-file", type=Path, help="exists once the system is up (restart only then)"
    )
    parser.add_argument("--max-restarts", type=int, default=5)
    parser.add_argument("--window", type=float, default=300.0, help="seconds")
    parser.add_argument("--stable", type=float, default=60.0, help="seconds")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command after --")
    keeper = Keeper(
        args.name, command, args.ready_file, args.max_restarts, args.window, args.stable
    )
    return keeper.run()


if __name__ == "__main__":
    sys.exit(main())
