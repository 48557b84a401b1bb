"""Rasa's SQL tracker store and SQL event broker, without their per-message overheads.

Selected by module path (``type: components.embedded_stores.…``) in ``bot/endpoints.yml``
(the embedded profile: one Rasa process, SQLite files) and, with ``shared: true``, in
``bot/endpoints.scaleout.yml`` (several Rasa instances on one PostgreSQL database).

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
- With ``shared: true`` (several Rasa instances on one database) another instance may have
  written a conversation since this one cached it, so every read first catches up: the rows
  with a higher id than the last one cached (events are only ever appended), checked against
  the conversation's row count (a mismatch reloads the conversation). Two instances never
  write one conversation at once: Rasa holds the conversation's lock (the Redis lock store)
  from reading it to saving it, for messages and for the HTTP API's event endpoints alike,
  so a conversation's ids grow in commit order. The count catches anything else (a lock
  that expired mid-message) at the next read. A message then reads a few new rows instead
  of the whole conversation twice, and is rebuilt from memory. ``save`` right after a read
  in the same task (Rasa's message handling, under the lock taken before that read) trusts
  that read and skips a second count; a ``save`` with no read of its own before it (the HTTP
  API's ``PUT …/tracker/events``) counts first. Profiled in the scale-out profile: see
  docs/load.md.
- ``BatchSQLEventBroker`` writes the events of one ``save`` (a customer turn) in one
  transaction instead of one commit per event; the rows and their order are the same, and
  the bridge's reader (an outbox: it tails the table by id) sees a turn all at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import weakref
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

from components.log_ids import log_id

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 500


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
    # Shared mode: the highest id read and the number of stored rows (all sessions) it covers.
    last_id: int = 0
    stored: int = 0
    # Shared mode: the task whose read last checked the rows against the database, until the
    # ``save`` that follows it in that task.
    checked_by: weakref.ref[asyncio.Task[Any]] | None = None


def _ref(task: asyncio.Task[Any] | None) -> weakref.ref[asyncio.Task[Any]] | None:
    return None if task is None else weakref.ref(task)


def _same(checked_by: weakref.ref[asyncio.Task[Any]] | None, task: asyncio.Task[Any]) -> bool:
    return checked_by is not None and checked_by() is task


def _in_session(timestamp: float | None, session_start: float | None) -> bool:
    """SQL ``timestamp >= session_start OR session_start IS NULL`` (NULL compares false)."""
    if session_start is None:
        return True
    return timestamp is not None and timestamp >= session_start


class CachedSQLTrackerStore(SQLTrackerStore):
    """Rasa's ``SQLTrackerStore`` that answers ``retrieve`` from memory for recent conversations.

    ``cache_size`` (endpoints.yml) bounds the number of conversations kept. Without ``shared``
    this process must be the only writer of its database; with ``shared: true`` other Rasa
    instances may write it too, under Rasa's conversation lock (see the module docstring).
    """

    def __init__(
        self,
        *args: Any,
        cache_size: int = DEFAULT_CACHE_SIZE,
        shared: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            # Rasa's constructor made a NullPool engine (and created the tables with it).
            self.engine.dispose()
            self.engine = pooled_engine(url)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self.cache_size = int(cache_size)
        self.shared = bool(shared)
        self._cache: OrderedDict[str, _Conversation] = OrderedDict()
        # Conversations whose last read failed, with the task it failed in (see retrieve).
        self._unread: dict[str, weakref.ref[asyncio.Task[Any]] | None] = {}

    # -- reading -------------------------------------------------------------------------------

    def _conversation(self, sender_id: str, saving: bool = False) -> _Conversation:
        """The cached rows of a conversation (caught up in shared mode), read on a miss.

        ``saving``: for ``save``, which trusts a read made earlier in the same task.
        """
        task = asyncio.current_task() if self.shared else None
        conversation = self._cache.get(sender_id)
        if conversation is not None:
            self._cache.move_to_end(sender_id)
            checked_by, conversation.checked_by = conversation.checked_by, None
            if not self.shared or (saving and task is not None and _same(checked_by, task)):
                return conversation
            if self._catch_up(sender_id, conversation):
                conversation.checked_by = _ref(task)
                return conversation
            del self._cache[sender_id]
        conversation = self._load(sender_id)
        conversation.checked_by = _ref(task)
        self._remember(sender_id, conversation)
        return conversation

    def _load(self, sender_id: str) -> _Conversation:
        """The rows Rasa's ``retrieve`` query reads (and, shared, the row count and last id)."""
        event = self.SQLEvent
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            columns = [event.type_name, event.timestamp, event.data]
            if self.shared:
                # In the same statement, so one snapshot gives the rows and what they cover.
                stats = (
                    sa.select(
                        sa.func.count(event.id).label("stored"),
                        sa.func.max(event.id).label("last_id"),
                    )
                    .where(event.sender_id == sender_id)
                    .subquery()
                )
                columns += [stats.c.stored, stats.c.last_id]
                query = query.join(stats, sa.true())
            rows = query.with_entities(*columns).all()
        conversation = _Conversation(rows=[tuple(row[:3]) for row in rows])
        if self.shared and rows:
            conversation.stored, conversation.last_id = rows[0][3], rows[0][4]
        # The query returns the latest session_started itself (its timestamp is >= itself).
        starts = [
            timestamp
            for type_name, timestamp, _ in conversation.rows
            if type_name == SessionStarted.type_name and timestamp is not None
        ]
        conversation.session_start = max(starts) if starts else None
        return conversation

    def _catch_up(self, sender_id: str, conversation: _Conversation) -> bool:
        """Append what other instances stored since; False when the cache cannot be trusted."""
        event = self.SQLEvent
        with self.session_scope() as session:
            stored = session.execute(
                sa.select(sa.func.count(event.id)).where(event.sender_id == sender_id)
            ).scalar_one()
            if stored == conversation.stored:
                return True
            new = session.execute(
                sa.select(event.id, event.type_name, event.timestamp, event.data)
                .where(event.sender_id == sender_id, event.id > conversation.last_id)
                .order_by(event.id)
            ).all()
        if not new or conversation.stored + len(new) != stored:
            return False  # rows appeared below the last id read, or were removed
        self._append(conversation, [row[1:] for row in new])
        conversation.stored, conversation.last_id = stored, new[-1][0]
        return True

    def _remember(self, sender_id: str, conversation: _Conversation) -> None:
        self._cache[sender_id] = conversation
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the latest session, as ``SQLTrackerStore.retrieve`` builds it.

        A read that fails (database down) is remembered for the task: Rasa's fail-safe store
        then hands the message a new tracker (a new session), and its ``save`` must store all
        of that tracker's events rather than those past the stored conversation's length,
        which would be none: the customer was answered, but the turn reached neither the
        database nor the CRM (Rasa's own store does the same; seen in
        ``tests/e2e/test_scaleout_faults.py`` when PostgreSQL came back mid-message).
        """
        try:
            conversation = self._conversation(sender_id)
        except Exception:
            self._unread[sender_id] = _ref(asyncio.current_task())
            raise
        self._unread.pop(sender_id, None)
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
            unread = self._unread.get(sender_id)
            fresh = unread is not None and _same(unread, asyncio.current_task())
            conversation = self._conversation(sender_id, saving=True)
            conversation.checked_by = None  # the next save counts again unless a read precedes it
            # A new tracker after a failed read: none of it is stored yet (until a save of it
            # stores something; Rasa saves the empty new tracker first).
            offset = 0 if fresh else len(conversation.rows)
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
            last_id = self._insert(rows)
            if rows or not fresh:
                self._unread.pop(sender_id, None)
        except BaseException:
            self._cache.pop(sender_id, None)  # the database is the truth
            raise
        self._append(conversation, [(r["type_name"], r["timestamp"], r["data"]) for r in rows])
        if last_id is not None:
            conversation.stored += len(rows)
            conversation.last_id = int(last_id)
        logger.debug("tracker of %s stored", log_id(sender_id))

    def _insert(self, rows: list[dict[str, Any]]) -> int | None:
        """Insert the rows in one transaction; in shared mode, return the highest id after.

        Shared mode: with the last id (read in the same transaction, under the conversation's
        lock) the cache takes the rows as written, so the next read finds the count as it
        expects and reads nothing more. (A multi-row ``INSERT … RETURNING`` would save the
        query but SQLAlchemy compiles it anew for every row count: more CPU than the query.)
        """
        if not rows:
            return None
        table = self.SQLEvent.__table__
        with self.session_scope() as session:
            session.execute(table.insert(), rows)
            last_id = None
            if self.shared:
                last_id = session.execute(
                    sa.select(sa.func.max(table.c.id)).where(
                        table.c.sender_id == rows[0]["sender_id"]
                    )
                ).scalar_one()
            session.commit()
        return last_id

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
    def _append(conversation: _Conversation, rows: Iterable[tuple[str, float | None, str]]) -> None:
        """Update the cached rows to what the ``retrieve`` query now returns."""
        new = [tuple(row) for row in rows]
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
