"""The load generator (benchmarks/load_test.py) against the real system, small and short.

Ten customers for about 15 s (socket.io and REST, both languages, signed and anonymous, some
asking for a human whom simulated agents serve through the console API): every message must
be answered correctly in time, and every kind of turn must have been exercised. The full-size
run (60 customers, 60 s) is a benchmark, not a test: see benchmarks/load_test.py.

All of it comes from 127.0.0.1: the shared stack's rate limits per address are out of reach
(tests/e2e/conftest.py), and the generator checks Rasa's limits before it starts (exit code 2
when they could refuse this load; a refusal during the load is a ``rate_limited`` error).
"""

from __future__ import annotations

import json

import pytest

from benchmarks import load_test

pytestmark = pytest.mark.slow


def test_a_short_load_is_answered_without_errors(stack, tmp_path):
    out = tmp_path / "load.json"
    code = load_test.main(
        [
            *("--rasa-url", stack.rasa_url, "--bridge-url", stack.bridge_url),
            *("--actions-url", stack.actions_url, "--var-dir", str(stack.var_dir)),
            *("--customers", "10", "--duration", "15", "--ramp-up", "3", "--idle", "1"),
            *("--rest-share", "0.2", "--handoff-share", "0.3", "--agents", "2"),
            *("--seed", "18", "--json", str(out)),
        ]
    )
    assert code != 2, "the load test could not start: its reason is on stderr above"
    report = json.loads(out.read_text())
    assert code == 0, (report["errors"], report["error_examples"])
    assert report["settings"]["rasa_api_url"] == stack.rasa_url  # embedded: one port for all
    assert report["errors"]["total"] == 0
    for kind, row in report["kinds"].items():
        assert row["answered"] > 0 and row["errors"] == 0, (kind, row)
    assert report["channels"]["rest"]["answered"] > 0
    assert report["conversations"]["peak_concurrent"] >= 9, report["conversations"]
    handoffs = report["handoffs"]
    assert handoffs["requested"] >= 1 and handoffs["resolved"] >= 1, handoffs
    assert set(report["resources"]) >= {"rasa", "actions", "bridge"}, report["servers"]
    assert report["sustained_msgs_per_s"] > 0
