"""Start Rasa's server: ``python -m rasa_server run …``, run from ``bot/`` (Procfiles).

The same as ``python -m rasa run …`` with ``--auth-token`` taken from ``CSA_RASA_TOKEN``. Rasa
reads its API token only from the command line, and a process's command line is readable by
every local user (``ps``, ``/proc/PID/cmdline``); its environment is readable only by its owner.
The token is added to ``sys.argv`` inside this process, which ``/proc`` does not show.

CORS for the REST webhook comes from ``CSA_WIDGET_ORIGINS`` (:mod:`channels.cors`), in place
of Rasa's ``--cors``, which would also cover socket.io's routes and double their headers.
"""

from __future__ import annotations

import os
import runpy
import sys

TOKEN_VARIABLE = "CSA_RASA_TOKEN"


def with_token(argv: list[str], token: str) -> list[str]:
    """``argv`` with ``--auth-token`` added after the ``run`` command.

    Raises ``SystemExit`` with what to do when the API is enabled but no token is set, or when
    the token is also given on the command line.
    """
    if any(arg == "--auth-token" or arg.startswith("--auth-token=") for arg in argv):
        raise SystemExit(f"rasa_server: pass the token in {TOKEN_VARIABLE}, not --auth-token")
    if "--enable-api" not in argv:
        return argv
    if not token:
        raise SystemExit(
            f"rasa_server: {TOKEN_VARIABLE} is empty; Rasa's HTTP API must not run without a "
            "token (the launchers set it from var/secrets/rasa_token)"
        )
    return [*argv, f"--auth-token={token}"]


def use_project_cors() -> None:
    """Check ``CSA_WIDGET_ORIGINS`` now; Rasa's app gets :func:`channels.cors.configure_cors`."""
    import rasa.server
    from channels import cors

    try:
        cors.parse_origins(os.environ.get(cors.ORIGINS_VARIABLE, ""))
    except cors.OriginError as err:
        raise SystemExit(f"rasa_server: {err}") from None
    rasa.server.configure_cors = cors.configure_cors


if __name__ == "__main__":
    sys.argv = [sys.argv[0], *with_token(sys.argv[1:], os.environ.get(TOKEN_VARIABLE, ""))]
    use_project_cors()
    runpy.run_module("rasa", run_name="__main__", alter_sys=True)
