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
