"""Conversations Rasa stored under plain sender ids keep working under channel-qualified keys.

Rasa's own SQL tracker store (in the bot env) writes trackers the old way; the launcher's
migration renames them; Rasa's store then finds each under ``<channel>:<sender>``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from devtools.conversation_keys import qualify_stored_keys
from tests.bot.in_rasa_env import run_check
from tests.utils.databases import postgres_database

STORE = """
import asyncio, sys
from sqlalchemy.engine import make_url
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered, BotUttered
from rasa.shared.core.trackers import DialogueStateTracker

url = make_url(sys.argv[1])
def store():
    if url.get_backend_name() == "sqlite":
        return SQLTrackerStore(Domain.empty(), dialect="sqlite", db=url.database)
    return SQLTrackerStore(Domain.empty(), dialect="postgresql", host=url.host, port=url.port,
                           db=url.database, username=url.username, password=url.password or "")
"""

WRITE = (
    STORE
    + """
async def main():
    s = store()
    senders = (("alice", "rest"), ("w_" + "a" * 32, "socketio"), ("oFollower", "wechat"))
    for sender, channel in senders:
        t = DialogueStateTracker(sender, [])
        t.update(UserUttered("hello " + sender, input_channel=channel))
        t.update(BotUttered("hi"))
        await s.save(t)
    t = DialogueStateTracker("silent", [])
    t.update(BotUttered("nobody spoke"))
    await s.save(t)
    print("written")
asyncio.run(main())
"""
)

READ = (
    STORE
    + """
async def main():
    s = store()
    for key in ("rest:alice", "socketio:w_" + "a" * 32, "wechat:oFollower"):
        t = await s.retrieve(key)
        assert t is not None and t.latest_message.text.startswith("hello"), key
    assert await s.retrieve("alice") is None
    print("read")
asyncio.run(main())
"""
)


def _run(script: str, url: str, done: str) -> None:
    run_check(f"import sys; sys.argv = ['x', {url!r}]\n" + script, done)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_stored_trackers_are_found_under_their_channel_key(kind: str, tmp_path: Path) -> None:
    def check(url: str) -> None:
        _run(WRITE, url, "written")
        assert qualify_stored_keys(url) == 3
        _run(READ, url, "read")
        engine = create_engine(url)
        with engine.connect() as connection:
            senders = set(connection.execute(text("SELECT sender_id FROM events")).scalars())
        engine.dispose()
        # The conversation without a customer message has no known channel: left alone.
        assert "silent" in senders and not senders & {"alice", "oFollower"}
        assert qualify_stored_keys(url) == 0  # once only

    if kind == "sqlite":
        check(f"sqlite:///{tmp_path / 'tracker.db'}")
    else:
        with postgres_database() as url:
            check(make_url(url).set(drivername="postgresql").render_as_string(False))


def test_the_sql_broker_outbox_is_renamed_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")
        )
        for sender, event in (
            ("bob", {"event": "user", "text": "hi", "input_channel": "callback"}),
            ("bob", {"event": "bot", "text": "hello"}),
            ("rest:carol", {"event": "user", "text": "hi", "input_channel": "rest"}),
        ):
            connection.execute(
                text("INSERT INTO events (sender_id, data) VALUES (:s, :d)"),
                {"s": sender, "d": json.dumps(event)},
            )
    assert qualify_stored_keys(url) == 1
    with engine.connect() as connection:
        senders = connection.execute(text("SELECT sender_id FROM events ORDER BY id")).scalars()
        assert list(senders) == ["callback:bob", "callback:bob", "rest:carol"]
    engine.dispose()


def test_a_fresh_store_without_tables_is_left_alone(tmp_path: Path) -> None:
    assert qualify_stored_keys(f"sqlite:///{tmp_path / 'new.db'}") == 0
