"""Which shop pages may talk to the customer channels from the browser (CORS), in one place.

One setting, ``CSA_WIDGET_ORIGINS``, lists the shop's origins
(``https://shop.example,https://m.shop.example``); empty means any origin. It applies to:

- socket.io, both transports: python-engineio checks the ``Origin`` of the polling requests
  and of the websocket upgrade and answers the CORS headers (:func:`socketio_options`, used by
  the widget channel with ``credentials.yml``'s ``allowed_origins``);
- the REST webhook (``/webhooks/rest/webhook``): Sanic-CORS, as Rasa's ``--cors`` would, but
  for that route only (:func:`configure_cors`, put in place of Rasa's by ``rasa_server``).

Rasa's own ``--cors`` covers every route (``/*``), the socket.io ones included, where
python-engineio adds its own headers: a browser refuses a response with two
``Access-Control-Allow-Origin`` headers. Without ``--cors``, the Sanic-CORS Rasa installs
answers every preflight without any. No credentials are allowed: the channels carry tokens in
their messages, never cookies.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

ORIGINS_VARIABLE = "CSA_WIDGET_ORIGINS"
BROWSER_ROUTE = "/webhooks/rest/webhook"
"""The HTTP route shop pages may call (socket.io answers for itself). A plain path: Sanic-CORS
compares it whole; its regular expressions are matched differently (``^…$`` never matched)."""
PREFLIGHT_MAX_AGE = 600


class OriginError(ValueError):
    """An allowed origin that no browser would ever send; the message says how to write it."""


def parse_origins(value: Any) -> list[str]:
    """The origins of a comma-separated setting, each checked and without a trailing slash.

    Raises:
        OriginError: an entry is not ``scheme://host[:port]`` (a path, a query, no scheme).
    """
    origins = []
    for raw in str(value or "").split(","):
        origin = raw.strip().rstrip("/")
        if not origin:
            continue
        if origin == "*":
            raise OriginError(f"{ORIGINS_VARIABLE}: leave it empty to allow any origin, not '*'")
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
            raise OriginError(
                f"{ORIGINS_VARIABLE}: {raw.strip()!r} is not an origin; write the scheme, host "
                "and port only, e.g. https://shop.example or http://localhost:3000"
            )
        origins.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return origins


def socketio_options(origins: list[str]) -> dict[str, Any]:
    """python-socketio ``AsyncServer`` options for these origins (empty: any)."""
    return {"cors_allowed_origins": origins or "*", "cors_credentials": False}


def configure_cors(app: Any, cors_origins: Any = None) -> None:
    """Sanic-CORS for :data:`BROWSER_ROUTE` only, from ``CSA_WIDGET_ORIGINS``.

    Takes the place of ``rasa.server.configure_cors``. Rasa's ``--cors`` (``cors_origins``)
    must not be given: the one setting is the environment variable.
    """
    from sanic_cors import CORS

    if cors_origins:
        raise SystemExit(f"rasa: set the allowed origins in {ORIGINS_VARIABLE}, not with --cors")
    origins = parse_origins(os.environ.get(ORIGINS_VARIABLE, ""))
    CORS(
        app,
        resources={
            BROWSER_ROUTE: {
                "origins": origins or "*",
                "methods": ["POST", "OPTIONS"],
                "allow_headers": ["Content-Type"],
                "supports_credentials": False,
                "max_age": PREFLIGHT_MAX_AGE,
            }
        },
        automatic_options=True,
    )
