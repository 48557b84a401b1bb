"""The HTTP API's event validation (bot/components/rasa_speedups.py, fix 4) answers as Rasa's."""

from __future__ import annotations

from tests.bot.in_rasa_env import run_check

CHECK = r"""
import rasa.server
original = rasa.server.validate_events_in_request_body
import components  # applies the fixes
patched = rasa.server.validate_events_in_request_body
assert patched is not original and patched.__module__ == "components.rasa_speedups"


class Request:
    def __init__(self, body):
        self.json = body


bodies = [
    {"event": "bot", "text": "hi", "timestamp": 1.0},
    [{"event": "pause"}, {"event": "bot", "text": "hi", "metadata": {"a": 1}}],
    [{"event": "resume"}],
    {"event": "slot", "name": "language", "value": "zh"},
    {"no_event": 1},
    [{"event": "bot", "text": 5}],
    [{"event": "user", "text": "hi", "parse_data": "nope"}],
    "nope",
    [1, 2],
    [],
]
refused = 0
for body in bodies:
    outcome = []
    for validate in (original, patched):
        try:
            validate(Request(body))
            outcome.append(None)
        except rasa.server.ErrorResponse as error:
            outcome.append((error.status, error.error_info))
    assert outcome[0] == outcome[1], (body, outcome)
    refused += outcome[0] is not None
assert refused >= 4, refused  # the bad bodies really were refused
print("event validation ok")
"""


def test_event_validation_keeps_rasas_answers():
    run_check(CHECK, "event validation ok")
