"""Processes that end when the process that started them ends, however it ended.

The launcher runs honcho, honcho runs one restart wrapper per server, each wrapper runs its
server. When the launcher was killed outright (its terminal closed, SIGKILL), nothing told the
others: they lived on with parent 1, holding their ports, and the next ``make run`` could not
start. Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``) closes that gap: each link asks
the kernel to send it SIGTERM when its parent goes, and stops its own children as on Ctrl-C.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["die_with_parent"]

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Have the kernel send ``signum`` to this process when its parent exits.

    Safe in a ``preexec_fn`` (between fork and exec; the setting survives exec). Returns False
    where it is not available (not Linux), True otherwise. If the parent already died before
    the call, the signal is sent at once.
    """
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent went between the two calls
        os.kill(os.getpid(), signum)
    return True
