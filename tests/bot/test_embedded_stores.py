"""The embedded tracker store and broker (bot/components/embedded_stores.py) behave as Rasa's.

Runs in Rasa's env: the same operations go to Rasa's ``SQLTrackerStore`` + ``SQLEventBroker``
and to ``CachedSQLTrackerStore`` + ``BatchSQLEventBroker`` (with a cache smaller than the
number of conversations, so some are evicted and read back); after every step the trackers
that Rasa would get, the tracker rows and the broker's outbox rows must be identical. A new
store on the same files (a restarted Rasa) must read the same trackers, and a failed write
must not leave the conversation in the cache.
"""

from __future__ import annotations

from devtools.config import ROOT
from tests.bot.in_rasa_env import run_check

CHECK = r"""
import asyncio, os, sqlite3, tempfile
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from sqlalchemy.pool import QueuePool
from components.embedded_stores import BatchSQLEventBroker, CachedSQLTrackerStore

domain = Domain.load("domain")
folder = tempfile.mkdtemp()
path = lambda name: os.path.join(folder, name)
ref = SQLTrackerStore(domain, db=path("ref.db"), event_broker=SQLEventBroker(db=path("ref_ev.db")))


def cached(cache_size=2):
    # as Rasa builds a custom tracker store from endpoints.yml (host=..., domain=..., kwargs)
    broker = BatchSQLEventBroker(db=path("new_ev.db"))
    return CachedSQLTrackerStore(
        host=None, domain=domain, event_broker=broker, dialect="sqlite", db=path("new.db"),
        cache_size=cache_size,
    )


new = cached()
assert isinstance(new.engine.pool, QueuePool)
assert isinstance(new.event_broker.engine.pool, QueuePool)


def rows(name, table_columns):
    with sqlite3.connect(path(name)) as connection:
        return connection.execute(f"SELECT {table_columns} FROM events ORDER BY id").fetchall()


def state(tracker):
    return None if tracker is None else tracker.current_state(EventVerbosity.ALL)


async def same(sender_ids):
    for sid in sender_ids:
        a, b = await ref.retrieve(sid), await new.retrieve(sid)
        assert state(a) == state(b), sid
        assert (await ref.exists(sid)) == (await new.exists(sid))
        a, b = await ref.retrieve_full_tracker(sid), await new.retrieve_full_tracker(sid)
        assert state(a) == state(b), sid
    columns = "id, sender_id, type_name, timestamp, intent_name, action_name, data"
    assert rows("ref.db", columns) == rows("new.db", columns)
    assert rows("ref_ev.db", "id, sender_id, data") == rows("new_ev.db", "id, sender_id, data")


def user(text, intent, t):
    intent = {"name": intent, "confidence": 0.9}
    parse_data = {"intent": intent, "entities": [], "text": text}
    return UserUttered(text, intent, [], parse_data, timestamp=t)


def session_start(t):
    return [
        ActionExecuted("action_session_start", timestamp=t),
        SessionStarted(timestamp=t + 0.1),
        SlotSet("language", "en", timestamp=t + 0.2),
        ActionExecuted("action_listen", timestamp=t + 0.3),
    ]


def turn(text, t):
    return [user(text, "greet", t), SlotSet("language", "zh", timestamp=t + 0.1),
            ActionExecuted("utter_greet", timestamp=t + 0.2), BotUttered("hi", timestamp=t + 0.3),
            ActionExecuted("action_listen", timestamp=t + 0.4)]


async def step(sid, events):
    # what the processor does: get or create, add events, save
    for store in (ref, new):
        tracker = await store.get_or_create_tracker(sid, append_action_listen=False)
        for event in events:
            tracker.update(event)
        await store.save(tracker)


async def main():
    global new
    sids = ["a", "b", "c", "d"]
    t = 1000.0
    for sid in sids:
        await step(sid, session_start(t)); t += 1
    await same(sids)
    for i in range(3):
        for sid in sids:
            await step(sid, turn(f"hello {i}", t)); t += 1
        await same(sids)
    assert len(new._cache) <= 2, len(new._cache)
    # a new session in the middle of a conversation, then a turn in it
    await step("a", session_start(t)); t += 1
    await same(sids)
    await step("a", turn("again", t)); t += 1
    # an event older than the latest session start: stored, not part of the latest session
    await step("a", [SlotSet("language", "en", timestamp=1.0)])
    await step("b", [SessionStarted(timestamp=t), SlotSet("language", "en", timestamp=t - 500)])
    t += 1
    await same(sids)
    await step("b", turn("after", t)); t += 1
    await same(sids)
    # PUT /conversations/<id>/tracker/events: a tracker built from a list of events
    for store in (ref, new):
        events = [e.as_dict() for e in session_start(t) + turn("put", t + 1)]
        await store.save(DialogueStateTracker.from_dict("c", events, domain.slots))
    t += 2
    await same(sids)
    # a save without new events writes nothing
    for store in (ref, new):
        await store.save(await store.retrieve("d"))
    await same(sids)
    # an unknown conversation
    assert await new.retrieve("nobody") is None and not await new.exists("nobody")

    # a restarted Rasa reads the same from SQLite
    new = cached(cache_size=2000)
    await same(sids)
    for sid in sids:
        await step(sid, turn("after restart", t)); t += 1
    await same(sids)

    # a write that fails leaves SQLite as the truth and drops the conversation from the cache
    broken = new.sessionmaker
    def failing():
        raise RuntimeError("disk full")
    new.sessionmaker = failing
    tracker = await new.retrieve("a")
    assert "a" in new._cache
    tracker.update(user("lost", "greet", t))
    try:
        await new.save(tracker)
        raise SystemExit("no error")
    except RuntimeError:
        pass
    assert "a" not in new._cache
    new.sessionmaker = broken
    assert state(await new.retrieve("a")) == state(await ref.retrieve("a"))
    print("embedded stores ok")


asyncio.run(main())
"""


def test_embedded_stores_match_rasas_sql_store():
    run_check(CHECK, "embedded stores ok")


def test_embedded_profile_uses_them_scale_out_does_not():
    import yaml

    embedded = yaml.safe_load((ROOT / "bot" / "endpoints.yml").read_text())
    scaleout = yaml.safe_load((ROOT / "bot" / "endpoints.scaleout.yml").read_text())
    assert embedded["tracker_store"]["type"] == "components.embedded_stores.CachedSQLTrackerStore"
    assert embedded["event_broker"]["type"] == "components.embedded_stores.BatchSQLEventBroker"
    assert scaleout["tracker_store"]["type"] == "SQL"
