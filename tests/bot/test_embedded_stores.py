"""The embedded tracker store and broker (bot/components/embedded_stores.py) behave as Rasa's.

Runs in Rasa's env: the same operations go to Rasa's ``SQLTrackerStore`` + ``SQLEventBroker``
and to ``CachedSQLTrackerStore`` + ``BatchSQLEventBroker`` (with a cache smaller than the
number of conversations, so some are evicted and read back); after every step the trackers
that Rasa would get, the tracker rows and the broker's outbox rows must be identical. A new
store on the same files (a restarted Rasa) must read the same trackers, and a failed write
must not leave the conversation in the cache.

Shared mode (``shared: true``, the scale-out profile): two caching stores on one database,
as two Rasa instances, take turns on the same conversations (as Rasa's conversation lock lets
them); each must read what the other wrote, on SQLite and on a real PostgreSQL database.
"""

from __future__ import annotations

import json
from contextlib import ExitStack

import pytest
from sqlalchemy import make_url

from devtools.config import ROOT
from tests.bot.in_rasa_env import run_check
from tests.utils.databases import postgres_database

HELPERS = r"""
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import EventVerbosity


def state(tracker):
    return None if tracker is None else tracker.current_state(EventVerbosity.ALL)


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


async def step_on(stores, sid, events):
    # what the processor does with each store: get or create, add the events, save
    for store in stores:
        tracker = await store.get_or_create_tracker(sid, append_action_listen=False)
        for event in events:
            tracker.update(event)
        await store.save(tracker)
"""

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


def turn(text, t):
    return [user(text, "greet", t), SlotSet("language", "zh", timestamp=t + 0.1),
            ActionExecuted("utter_greet", timestamp=t + 0.2), BotUttered("hi", timestamp=t + 0.3),
            ActionExecuted("action_listen", timestamp=t + 0.4)]


async def step(sid, events):
    await step_on((ref, new), sid, events)


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


SHARED_CHECK = r"""
import asyncio, json, os, random, tempfile
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from sqlalchemy import text
from components.embedded_stores import BatchSQLEventBroker, CachedSQLTrackerStore

domain = Domain.load("domain")
folder = tempfile.mkdtemp()
path = lambda name: os.path.join(folder, name)
server = json.loads(os.environ["CHECK_SERVER"])


def database(name):
    # the store's database: a SQLite file, or one of the two PostgreSQL databases
    if server is None:
        return {"dialect": "sqlite", "db": path(name + ".db")}
    login = {key: value for key, value in server.items() if key != "dbs"}
    return {"dialect": "postgresql", **login, "db": server["dbs"][name]}


ref = SQLTrackerStore(domain, event_broker=SQLEventBroker(db=path("ref_ev.db")), **database("ref"))


def instance(cache_size=3):
    broker = BatchSQLEventBroker(db=path("shared_ev.db"))
    return CachedSQLTrackerStore(
        domain=domain, event_broker=broker, cache_size=cache_size, shared=True,
        **database("shared"),
    )


one, two = instance(), instance()


def rows(store):
    with store.engine.connect() as connection:
        return connection.execute(text(
            "SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
            "FROM events ORDER BY id")).fetchall()


async def same(sender_ids):
    for sid in sender_ids:
        want = state(await ref.retrieve(sid))
        for store in (one, two):
            assert state(await store.retrieve(sid)) == want, sid
    assert rows(ref) == rows(one)


def turn(text, t):
    return [user(text, "greet", t), ActionExecuted("utter_greet", timestamp=t + 0.2),
            BotUttered(text, timestamp=t + 0.3), ActionExecuted("action_listen", timestamp=t + 0.4)]


async def step(store, sid, events):
    await step_on((ref, store), sid, events)


async def main():
    rng = random.Random(7)
    sids = [f"s{n}" for n in range(5)]
    t = 1000.0
    for sid in sids:
        await step(rng.choice((one, two)), sid, session_start(t)); t += 1
    await same(sids)
    # both instances hold every conversation in turn; each message may reach either one
    for i in range(40):
        sid = rng.choice(sids)
        store = rng.choice((one, two))
        events = session_start(t) if i % 13 == 12 else turn(f"m{i}", t)
        await step(store, sid, events); t += 1
        if i % 5 == 4:
            await same(sids)
    await same(sids)
    assert len(one._cache) <= 3 and len(two._cache) <= 3
    # several turns on one instance while the other holds the conversation in its cache
    await one.retrieve("s0"); await two.retrieve("s0")
    for i in range(3):
        await step(two, "s0", turn(f"on two {i}", t)); t += 1
    await step(one, "s0", turn("back on one", t)); t += 1
    # a new session and an event older than it, written by the other instance
    older = SlotSet("language", "zh", timestamp=t - 500)
    await step(two, "s0", [SessionStarted(timestamp=t), older])
    t += 1
    await step(one, "s0", turn("new session", t)); t += 1
    await same(sids)
    # PUT /conversations/<id>/tracker/events through the other instance
    await one.retrieve("s1")
    for store in (ref, two):
        events = [e.as_dict() for e in session_start(t) + turn("put", t + 1)]
        await store.save(DialogueStateTracker.from_dict("s1", events, domain.slots))
    t += 2
    await same(sids)
    # the same PUT through an instance whose cache is behind: it read the conversation earlier
    # (in this task), the other instance wrote since, and the PUT's save (a task of its own, as
    # Rasa's HTTP API handler, with no read before it) must not trust that earlier read
    # (a short latest session, so the PUT's tracker holds more events than the stored session)
    await step(one, "s3", session_start(t)); t += 1
    await one.retrieve("s3")
    await step(two, "s3", turn("on two before the put", t)); t += 1
    put = session_start(t) + turn("put on one", t + 1) + turn("and again", t + 2)
    for store in (ref, one):
        tracker = DialogueStateTracker.from_dict("s3", [e.as_dict() for e in put], domain.slots)
        await asyncio.create_task(store.save(tracker))
    t += 3
    await same(sids)
    # a row removed behind the caches' back, then a turn: the new rows do not account for the
    # count, so each instance reloads the conversation
    await one.retrieve("s2"); await two.retrieve("s2")
    for store in (ref, one):
        with store.engine.begin() as connection:
            last = connection.execute(text(
                "SELECT max(id) FROM events WHERE sender_id = 's2' AND type_name = 'bot'")).scalar()
            connection.execute(text("DELETE FROM events WHERE id = :id"), {"id": last})
    await step(two, "s2", turn("after the removal", t)); t += 1
    await same(sids)
    # a read that fails (the database down for it): Rasa's fail-safe store gives the message a
    # new tracker (a new session), and its save must store that session, not nothing
    from rasa.core.tracker_store import FailSafeTrackerStore
    for i in range(3):  # a stored session longer than the new tracker
        await step(one, "s4", turn(f"before the outage {i}", t)); t += 1
    await one.retrieve("s4")
    catch_up = one._catch_up
    def database_down(*_args):
        raise RuntimeError("database down")
    one._catch_up = database_down
    safe = FailSafeTrackerStore(one)
    tracker = await safe.get_or_create_tracker("s4", append_action_listen=False)
    one._catch_up = catch_up
    assert [e.type_name for e in tracker.events] == [], tracker.events
    for event in session_start(t) + turn("during the outage", t + 1):
        tracker.update(event)
    await FailSafeTrackerStore(one).save(tracker)
    stored = [json.loads(row[5]).get("text") for row in rows(one) if row[0] == "s4"]
    assert stored.count("during the outage") == 2, stored  # the user's and the bot's
    latest = await two.retrieve("s4")  # the other instance reads the new session
    said = [e.text for e in latest.events if isinstance(e, (UserUttered, BotUttered))]
    assert said == ["during the outage"] * 2, latest.events
    print("shared stores ok")


asyncio.run(main())
"""


def test_embedded_stores_match_rasas_sql_store():
    run_check(HELPERS + CHECK, "embedded stores ok")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_shared_stores_catch_up_with_each_other(kind: str, monkeypatch: pytest.MonkeyPatch):
    with ExitStack() as stack:
        server = None
        if kind == "postgresql":
            urls = [make_url(stack.enter_context(postgres_database())) for _ in range(2)]
            server = {
                "host": urls[0].host,
                "port": urls[0].port or 5432,
                "username": urls[0].username,
                "password": urls[0].password or "",
                "dbs": {"ref": urls[0].database, "shared": urls[1].database},
            }
        monkeypatch.setenv("CHECK_SERVER", json.dumps(server))
        run_check(HELPERS + SHARED_CHECK, "shared stores ok")


def test_both_profiles_use_them_scale_out_shared():
    import yaml

    embedded = yaml.safe_load((ROOT / "bot" / "endpoints.yml").read_text())
    scaleout = yaml.safe_load((ROOT / "bot" / "endpoints.scaleout.yml").read_text())
    assert embedded["tracker_store"]["type"] == "components.embedded_stores.CachedSQLTrackerStore"
    assert embedded["event_broker"]["type"] == "components.embedded_stores.BatchSQLEventBroker"
    assert scaleout["tracker_store"]["type"] == "components.embedded_stores.CachedSQLTrackerStore"
    assert embedded["tracker_store"].get("shared", False) is False
    assert scaleout["tracker_store"]["shared"] is True
