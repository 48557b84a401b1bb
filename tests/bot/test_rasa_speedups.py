"""The Rasa speed fixes (bot/components/rasa_speedups.py) give Rasa's own answers, in Rasa's env."""

from __future__ import annotations

from tests.bot.in_rasa_env import run_check

CHECK = """
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, SlotSet, UserUttered, deserialise_events
import components  # applies the fixes

action = RemoteAction("action_x", None)
schema = RemoteAction.action_response_format_spec()
good = {"events": [{"event": "slot", "name": "a", "value": 1}], "responses": [{"text": "hi"}]}
bad = [{"events": "nope"}, {"responses": [1]}, {"events": [{"no_event_key": 1}]}]
assert RemoteAction._validate_action_result.__module__ == "components.rasa_speedups"
assert action._validate_action_result(good) is True
validate(good, schema)
for result in bad:
    try:
        validate(result, schema)
        expected = None
    except ValidationError as err:
        expected = err.message
    try:
        action._validate_action_result(result)
        got = None
    except ValidationError as err:
        got = err.message
    assert (expected is None) == (got is None), (result, expected, got)
    assert got is None or got.startswith(expected), (expected, got)
assert Event.resolve_by_type("user") is UserUttered
assert Event.resolve_by_type("user") is UserUttered  # from the cache
assert Event.resolve_by_type("nope", default=SlotSet) is SlotSet
assert Event.resolve_by_type("topic") is None
try:
    Event.resolve_by_type("nope")
    raise SystemExit("no error for an unknown event")
except ValueError:
    pass
events = deserialise_events(
    [{"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
     {"event": "slot", "name": "language", "value": "zh"}]
)
assert [type(e).__name__ for e in events] == ["UserUttered", "SlotSet"], events
import sqlite3, tempfile, os
from sqlalchemy import create_engine, text
folder = tempfile.mkdtemp()
engine = create_engine("sqlite:///" + os.path.join(folder, "t.db"))
with engine.connect() as connection:
    assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
print("speedups ok")
"""


def test_speedups_keep_rasas_answers():
    run_check(CHECK, "speedups ok")


SESSION_CHECK = """
import asyncio
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig
import components  # applies the fixes

peers = []


async def webhook(request):
    peers.append(request.transport.get_extra_info("peername")[1])
    body = await request.json()
    return web.json_response({"echo": body, "auth": request.headers.get("Authorization")})


async def serve(port=0):
    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def main():
    peers.clear()
    runner, port = await serve()
    endpoint = EndpointConfig(
        f"http://127.0.0.1:{port}/webhook", basic_auth={"username": "u", "password": "p"}
    )
    answers = [await endpoint.request(json={"n": n}, method="post") for n in range(3)]
    assert [a["echo"] for a in answers] == [{"n": 0}, {"n": 1}, {"n": 2}], answers
    assert answers[0]["auth"] == "Basic dTpw", answers
    assert len(peers) == 3 and len(set(peers)) == 1, peers  # one kept connection
    await runner.cleanup()  # the action server stops; its connections close
    await asyncio.sleep(0.2)  # as the kernel's FIN reaches Rasa's loop
    try:
        await endpoint.request(json={"n": 3}, method="post")
        raise SystemExit("answered while the server was down")
    except Exception as err:
        assert "ClientConnectorError" in type(err).__name__, repr(err)
    runner, _ = await serve(port)
    assert (await endpoint.request(json={"n": 4}, method="post"))["echo"] == {"n": 4}
    await runner.cleanup()
    other = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    assert other.session()._session is not endpoint.session()._session
    await endpoint.session()._session.close()
    await other.session()._session.close()


asyncio.run(main())
asyncio.run(main())  # a new event loop gets a new session
print("sessions ok")
"""


def test_action_calls_share_one_connection_and_survive_a_restart():
    run_check(SESSION_CHECK, "sessions ok")
