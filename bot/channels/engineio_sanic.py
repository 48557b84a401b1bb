"""Stop the error logged on every closed socket.io websocket under Sanic.

When a customer's websocket closes, Engine.IO's request handler returns ``None`` (the
connection was the response). Sanic accepts that only from handlers marked ``is_websocket``,
and the handler Engine.IO registers is not marked, so every widget disconnect logged
``ServerError: Invalid response type None (need HTTPResponse)`` with a traceback (known
upstream: sanic-org/sanic#2572, miguelgrinberg/python-engineio#221): a false alarm on every
page close that buries real errors. :func:`install` makes Engine.IO register the same handler
through a marked wrapper; polling requests still answer with their ``HTTPResponse``.
"""

from __future__ import annotations

from typing import Any

_INSTALLED = False


def install() -> None:
    """Register Engine.IO's Sanic route through a handler Sanic knows (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from engineio.async_drivers import sanic as engineio_sanic

    def create_route(app: Any, engineio_server: Any, engineio_endpoint: str) -> None:
        async def handle_request(request: Any, *args: Any, **kwargs: Any) -> Any:
            return await engineio_server.handle_request(request, *args, **kwargs)

        handle_request.is_websocket = True  # type: ignore[attr-defined]
        app.add_route(handle_request, engineio_endpoint, methods=["GET", "POST", "OPTIONS"])
        try:
            app.enable_websocket()
        except AttributeError:  # a Sanic without websockets: polling only
            pass

    engineio_sanic._async["create_route"] = create_route
    _INSTALLED = True
