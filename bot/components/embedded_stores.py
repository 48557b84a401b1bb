"""Tracker store and event broker of the embedded profile (one Rasa process, SQLite files).

Selected in ``bot/endpoints.yml`` by module path (``type: components.embedded_stores.…``);
the scale-out profile (``endpoints.scaleout.yml``, several Rasa instances sharing PostgreSQL)
keeps Rasa's own ``SQLTrackerStore``: there another instance may have written a conversation,
so no instance may answer from its memory.

Why (profiled with py-spy under ``benchmarks/load_test.py``, docs/load.md): per customer
message Rasa's ``SQLTrackerStore`` reads the conversation twice (``retrieve`` for the message
and again in ``save`` to find the new events for the broker), counts its rows a third time, and
the ``SQLEventBroker`` commits each event on its own. With SQLAlchemy 1.4 a SQLite file gets a
``NullPool``: every one of these sessions opened a new SQLite connection, set the pragmas, and
closing it made SQLite checkpoint and delete the write-ahead log (the last connection of a WAL
database does), i.e. wait for the disk. All of it ran on Rasa's event loop, so every
conversation waited: about 60 % of Rasa's wall time under load went to ``commit`` and ``close``.

- Both classes keep their SQLite connections open (a small ``QueuePool``), so a commit
  appends to the write-ahead log and SQLite checkpoints it now and then, as designed.
- ``CachedSQLTrackerStore`` remembers, for the most recently used conversations (bounded LRU),
  exactly the rows that Rasa's ``retrieve`` query would read (the serialised events since the
  latest ``session_started``), and rebuilds the tracker from them as Rasa does
  (``DialogueStateTracker.from_dict``). A message no longer queries SQLite at all; ``save``
  still writes every new event to SQLite (in one transaction, before the cache changes) and
  streams the same events, in the same order and with the same bodies, to the broker first,
  as Rasa's ``save`` does. This is correct only because this process is the only writer of the
  tracker database (one Rasa process, in-memory lock store). After a restart the cache is empty
  and SQLite is the truth; a failed write drops the conversation from the cache.
- ``BatchSQLEventBroker`` writes the events of one ``save`` (a customer turn) in one
  transaction instead of one commit per event; the rows and their order are the same, and
  the bridge's reader (an outbox: it tails the table by id) sees a turn all at once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.pool import QueuePool

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 2000


def pooled_engine(url: Any) -> sa.engine.Engine:
    """An engine that keeps its SQLite connections open (other databases: SQLAlchemy's default).

    ``check_same_thread=False``: a pooled connection is only ever used by one thread at a time
    (the pool hands it out), but not always by the thread that opened it.
    """
    url = sa.engine.make_url(url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return sa.create_engine(url)
    return sa.create_engine(
        url,
        poolclass=QueuePool,
        pool_size=2,
        max_overflow=8,
        connect_args={"check_same_thread": False},
    )


@dataclass
class _Conversation:
    """The rows Rasa's ``retrieve`` would read now: ``(type_name, timestamp, data)``, by id."""

    rows: list[tuple[str, float | None, str]] = field(default_factory=list)
    session_start: float | None = None  # latest timestamp of a stored ``session_started``


def _in_session(timestamp: float | None, session_start: float | None) -> bool:
    """SQL ``timestamp >= session_start OR session_start IS NULL`` (NULL compares false)."""
    if session_start is None:
        return True
    return timestamp is not None and timestamp >= session_start


class CachedSQLTrackerStore(SQLTrackerStore):
    """Rasa's ``SQLTrackerStore`` that answers ``retrieve`` from memory for recent conversations.

    Only for a single Rasa process that is the only writer of its database (see the module
    docstring). ``cache_size`` (endpoints.yml) bounds the number of conversations kept.
    """

    def __init__(self, *args: Any, cache_size: int = DEFAULT_CACHE_SIZE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rasa's constructor made a NullPool engine (and created the tables with it).
        url = self.engine.url
        self.engine.dispose()
        self.engine = pooled_engine(url)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[str, _Conversation] = OrderedDict()

    # -- reading -------------------------------------------------------------------------------

    def _conversation(self, sender_id: str) -> _Conversation:
        """The cached rows of a conversation, read from SQLite on a miss."""
        conversation = self._cache.get(sender_id)
        if conversation is not None:
            self._cache.move_to_end(sender_id)
            return conversation
        with self.session_scope() as session:
            rows = (
                self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
                .with_entities(self.SQLEvent.type_name, self.SQLEvent.timestamp, self.SQLEvent.data)
                .all()
            )
        conversation = _Conversation(rows=[tuple(row) for row in rows])
        # The query returns the latest session_started itself (its timestamp is >= itself).
        starts = [
            timestamp
            for type_name, timestamp, _ in conversation.rows
            if type_name == SessionStarted.type_name and timestamp is not None
        ]
        conversation.session_start = max(starts) if starts else None
        self._remember(sender_id, conversation)
        return conversation

    def _remember(self, sender_id: str, conversation: _Conversation) -> None:
        self._cache[sender_id] = conversation
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the latest session, as ``SQLTrackerStore.retrieve`` builds it."""
        conversation = self._conversation(sender_id)
        events = [json.loads(data) for _, _, data in conversation.rows]
        if self.domain and len(events) > 0:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    # -- writing -------------------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stream the new events to the broker, then store them, as ``SQLTrackerStore.save``.

        "New" is decided as Rasa does: the tracker's events after as many as the stored
        latest session has (``TrackerEventDiffEngine.event_difference`` for the broker,
        ``_additional_events`` for the database; both use that count).
        """
        sender_id = tracker.sender_id
        try:
            conversation = self._conversation(sender_id)
            offset = len(conversation.rows)
            new_events = list(itertools.islice(tracker.events, offset, len(tracker.events)))
            serialised = [event.as_dict() for event in new_events]
            self._stream(sender_id, serialised)
            rows = []
            for event, data in zip(new_events, serialised, strict=True):
                rows.append(
                    {
                        "sender_id": sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {})
                        .get("intent", {})
                        .get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            if rows:
                with self.session_scope() as session:
                    session.execute(self.SQLEvent.__table__.insert(), rows)
                    session.commit()
        except BaseException:
            self._cache.pop(sender_id, None)  # SQLite is the truth
            raise
        self._append(conversation, rows)
        logger.debug(f"Tracker with sender_id '{sender_id}' stored to database")

    def _stream(self, sender_id: str, serialised: list[dict[str, Any]]) -> None:
        """The bodies ``TrackerStore._stream_new_events`` publishes, in one batch if possible."""
        if self.event_broker is None or not serialised:
            return
        bodies = []
        for data in serialised:
            body: dict[str, Any] = {"sender_id": sender_id}
            body.update(data)
            bodies.append(body)
        publish_many = getattr(self.event_broker, "publish_many", None)
        if publish_many is not None:
            publish_many(bodies)
        else:
            for body in bodies:
                self.event_broker.publish(body)

    @staticmethod
    def _append(conversation: _Conversation, rows: Iterable[dict[str, Any]]) -> None:
        """Update the cached rows to what the ``retrieve`` query now returns."""
        new = [(row["type_name"], row["timestamp"], row["data"]) for row in rows]
        if not new:
            return
        starts = [
            timestamp
            for type_name, timestamp, _ in new
            if type_name == SessionStarted.type_name and timestamp is not None
        ]
        if starts:
            # A new session: the query now keeps the rows at or after the latest start. Rows
            # that the old start excluded are older than the new one too.
            if conversation.session_start is not None:
                starts.append(conversation.session_start)
            start = max(starts)
            conversation.session_start = start
            conversation.rows = [
                row for row in [*conversation.rows, *new] if _in_session(row[1], start)
            ]
        else:
            conversation.rows.extend(
                row for row in new if _in_session(row[1], conversation.session_start)
            )


class BatchSQLEventBroker(SQLEventBroker):
    """Rasa's ``SQLEventBroker`` with a pooled connection and one transaction per batch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        self.engine = pooled_engine(url)
        self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        """Insert the events, in order, in one transaction (the same rows as ``publish``)."""
        if not events:
            return
        table = self.SQLBrokerEvent.__table__
        rows = [
            {"sender_id": event.get("sender_id"), "data": json.dumps(event)} for event in events
        ]
        with contextlib.closing(self.sessionmaker()) as session:
            session.execute(table.insert(), rows)
            session.commit()
