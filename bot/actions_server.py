"""Start rasa_sdk's action server: ``python -m actions_server``, run from ``bot/`` (Procfiles).

rasa_sdk's own ``python -m rasa_sdk`` listens on every address (``0.0.0.0``) and runs any
action for anyone who can reach the port: a forged tracker got a customer's orders back. This
starts the same application with three differences:

- it binds to ``--host`` (default ``CSA_HOST``, else 127.0.0.1), like Rasa and the bridge;
- every request but ``/health`` must carry ``Authorization: Bearer <token>`` with a token of
  ``CSA_ACTIONS_TOKEN`` (comma-separated: the first is current, the others still accepted
  while Rasa instances switch over), compared in constant time; Rasa sends it from
  ``endpoints.yml``. Without a token the server refuses to start;
- no CORS (no browser calls it), and Sanic's worker start-up deadline raised from 30 s to
  ``CSA_HEALTH_TIMEOUT``: the worker imports the actions and loads the knowledge base's
  models, which took longer than 30 s when the scale-out profile started everything at once
  on two cores (2026-12-01), so ``make run-scaleout`` failed.

rasa-sdk's warning that its version (3.21, the services env's) "might not be compatible" with
Rasa 3.6 is silenced for Rasa 3.6 only (:func:`accept_tested_rasa`): rasa-sdk's 3.6 line
requires Python < 3.11 and cannot be installed in the services env, the action webhook
(tracker and domain in, events and responses out) is the same in both, and this pair is what
the end-to-end tests run. Any other Rasa version still gets rasa-sdk's warning.
"""

from __future__ import annotations

import hmac
import logging
import os
import sys
from collections.abc import Sequence
from functools import partial

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader
from sanic.worker.manager import WorkerManager
from sanic.worker.process import WorkerProcess

TOKEN_VARIABLE = "CSA_ACTIONS_TOKEN"
ACCEPTED_VARIABLE = "CSA_ACTIONS_TOKENS"
"""Every token still accepted during a rotation (comma-separated); default: the current one."""
OPEN_PATHS = frozenset({"/health"})
STARTUP_DEADLINE_S = float(os.environ.get("CSA_HEALTH_TIMEOUT", "300"))

# Sanic counts the deadline in polls of 0.1 s.
WorkerManager.THRESHOLD = WorkerProcess.THRESHOLD = int(STARTUP_DEADLINE_S * 10)

logger = logging.getLogger(__name__)


def tokens_from(value: str) -> list[str]:
    """The accepted tokens of a comma-separated setting."""
    return [token.strip() for token in value.split(",") if token.strip()]


def authorized(header: str | None, tokens: Sequence[str]) -> bool:
    """Whether an ``Authorization`` header carries one of ``tokens`` (constant time each)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return any(hmac.compare_digest(given.encode(), token.encode()) for token in tokens)


def require_token(app: Sanic, tokens: Sequence[str]) -> None:
    """Refuse every request but the health check without one of ``tokens``."""

    async def check(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or authorized(request.headers.get("authorization"), tokens):
            return None
        logger.warning(
            "action server: refused an unauthenticated %s %s", request.method, request.path
        )
        return response.json(
            {"error": "authentication required: Rasa's endpoints.yml sends the action token"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    app.register_middleware(check, "request")


TESTED_RASA = "3.6."
"""The Rasa line this action server is tested against (``bot/requirements.txt``)."""


def accept_tested_rasa() -> None:
    """rasa-sdk's version check, quiet for :data:`TESTED_RASA` (idempotent)."""
    from rasa_sdk import utils

    check = utils.check_version_compatibility
    if getattr(check, "_csa_tested", False):
        return

    def check_version_compatibility(rasa_version: str | None) -> None:
        if rasa_version and rasa_version.startswith(TESTED_RASA):
            return
        check(rasa_version)

    check_version_compatibility._csa_tested = True  # type: ignore[attr-defined]
    utils.check_version_compatibility = check_version_compatibility


def create_app(actions_package: str, tokens: Sequence[str], endpoints: str) -> Sanic:
    """rasa_sdk's application for ``actions_package``, every call authenticated."""
    accept_tested_rasa()  # here: Sanic's worker process builds the app
    from rasa_sdk.endpoint import create_app_for_serve
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package(actions_package)
    app = create_app_for_serve(executor, cors_origins=None, endpoints=endpoints)
    require_token(app, tokens)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Parse rasa_sdk's arguments (plus ``--host``) and serve until stopped."""
    from rasa_sdk import utils
    from rasa_sdk.endpoint import create_argument_parser

    parser = create_argument_parser()
    parser.add_argument(
        "--host",
        default=os.environ.get("CSA_HOST", "127.0.0.1"),
        help="address to listen on (default CSA_HOST, else 127.0.0.1)",
    )
    args = parser.parse_args(argv)
    tokens = tokens_from(os.environ.get(ACCEPTED_VARIABLE) or os.environ.get(TOKEN_VARIABLE, ""))
    if not tokens:
        raise SystemExit(
            f"actions_server: {TOKEN_VARIABLE} is empty; the action server must not run without "
            "a token (the launchers set it from var/secrets/actions_token)"
        )
    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    # The factory must be importable by name in Sanic's worker process, not ``__main__``'s.
    import actions_server

    loader = AppLoader(
        factory=partial(
            actions_server.create_app, args.actions_module or args.actions, tokens, args.endpoints
        )
    )
    app = loader.load()
    app.prepare(
        host=args.host, port=args.port, workers=utils.number_of_sanic_workers(), access_log=False
    )
    logger.info("action server listening on http://%s:%s", args.host, args.port)
    Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    sys.exit(main())
