"""Speed fixes for Rasa 3.6, applied when Rasa loads the bot's components (``__init__``).

Both were found by profiling Rasa under ``benchmarks/load_test.py``; neither changes a result.

1. ``RemoteAction._validate_action_result`` calls ``jsonschema.validate`` on every action-server
answer, and ``jsonschema.validate`` checks the schema itself again each time before using it:
about 30 ms of CPU per custom action on this machine, twice per customer message, most of
Rasa's time under load (benchmarks/load_test.py, profiled). The schema is a constant, so a
validator built once gives the same result (same ``ValidationError``) for ~1 ms.
2. ``Event.resolve_by_type`` walks every subclass of ``Event`` for each event it deserialises
   (every event of a tracker, on every message); the answer per type name is a constant, so
   it is remembered.
3. The embedded tracker store and SQL event broker are SQLite files, and Rasa commits every
   event on its own: with SQLite's default rollback journal and ``synchronous=FULL`` each
   commit waits for the disk, about a third of Rasa's time under load. SQLite connections in
   the Rasa process use write-ahead logging with ``synchronous=NORMAL``: still atomic and
   safe when a process crashes (SQLite's documentation: a power loss may lose the last
   commits, never corrupt the file), and readers such as the bridge never block the writer.
4. The HTTP API's event endpoints (``POST``/``PUT /conversations/<id>/tracker/events``, used
   by the bridge for agent replies, pause and resume) validate the body with
   ``jsonschema.validate(events, EVENTS_SCHEMA)``, which checks the constant schema again on
   every call (about 1.5 ms per customer message on average under the load test, profiled
   after the tracker store fix in ``components/embedded_stores.py``). A validator built once
   reports the same error: ``jsonschema.validate`` without the schema check (best match).
   Applied when ``rasa.server`` is loaded (``rasa run``; ``rasa train`` does not import it).
5. ``EndpointConfig.request`` (every custom action call) opens a new aiohttp session, so a new
   TCP connection, for each request: about 0.5 ms of CPU in Rasa and 0.3 ms in the action
   server per call (measured with a local Sanic server), and 8 % of a Rasa instance's CPU
   under the scale-out load (profiled). Each endpoint keeps one session per event loop, with
   the same headers, auth and timeout. Idle connections are dropped after 2 s, before the
   action server's Sanic closes them (5 s), so no request goes out on a closing connection;
   a connection to a server that died is closed by the kernel and not reused.
"""

from __future__ import annotations

from typing import Any

_INSTALLED = False


def install() -> None:
    """Replace the per-call schema check with a validator built once (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    try:
        from jsonschema import ValidationError
        from jsonschema.validators import validator_for
        from rasa.core.actions.action import DOCS_BASE_URL, RemoteAction
    except ImportError:  # not inside Rasa (the services env imports components for tests)
        return
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        try:
            validator.validate(result)
        except ValidationError as err:
            err.message += (
                ". Failed to validate Action server response from API, make sure your "
                "response from the Action endpoint is valid. For more information about the "
                f"format visit {DOCS_BASE_URL}/custom-actions"
            )
            raise
        return True

    RemoteAction._validate_action_result = validate_action_result
    _cache_event_types()
    _sqlite_write_ahead_log()
    _validate_request_events_once()
    _reuse_endpoint_sessions()
    _INSTALLED = True


def _sqlite_write_ahead_log() -> None:
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        if isinstance(connection, sqlite3.Connection):
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()


def _validate_request_events_once() -> None:
    import sys

    server = sys.modules.get("rasa.server")
    if server is None:  # not serving (rasa train): nothing to speed up
        return
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    schema = server.EVENTS_SCHEMA
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def validate_events_in_request_body(request: Any) -> None:
        """``rasa.server.validate_events_in_request_body`` with a validator built once."""
        events = request.json if isinstance(request.json, list) else [request.json]
        error = best_match(validator.iter_errors(events))
        if error is not None:
            raise server.ErrorResponse(
                server.HTTPStatus.BAD_REQUEST,
                "BadRequest",
                f"Failed to validate the events format. "
                f"For more information about the format visit the docs. Error: {error}",
                help_url=server._docs("/pages/http-api"),
            ) from error

    server.validate_events_in_request_body = validate_events_in_request_body


def _cache_event_types() -> None:
    from rasa.shared.core.events import Event

    resolve = Event.resolve_by_type
    known: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        found = known.get(type_name)
        if found is None:
            found = resolve(type_name, default)
            if found is not None and getattr(found, "type_name", None) == type_name:
                known[type_name] = found
        return found

    Event.resolve_by_type = staticmethod(resolve_by_type)


# Below Sanic's 5 s keep-alive (see 5. above).
ENDPOINT_KEEPALIVE_SECONDS = 2.0


class _BorrowedSession:
    """``async with`` gives the endpoint's kept session and leaves it open afterwards."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *_exc: object) -> None:
        return None


def _reuse_endpoint_sessions() -> None:
    import asyncio

    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

    def session(self: EndpointConfig) -> _BorrowedSession:
        """One session per endpoint and event loop (Rasa's: a new one per request)."""
        loop = asyncio.get_running_loop()
        kept = self.__dict__.get("_kept_session")
        if kept is None or kept[0] is not loop or kept[1].closed:
            auth = None
            if self.basic_auth:
                auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
            kept = (
                loop,
                aiohttp.ClientSession(
                    headers=self.headers,
                    auth=auth,
                    timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                    connector=aiohttp.TCPConnector(keepalive_timeout=ENDPOINT_KEEPALIVE_SECONDS),
                ),
            )
            self.__dict__["_kept_session"] = kept
        return _BorrowedSession(kept[1])

    EndpointConfig.session = session
