"""Readers of Rasa's event brokers that feed :class:`EventIngestor`.

- :class:`SqlBrokerTail` (embedded default): tails the ``events`` table that Rasa's SQL event
  broker writes, from the last row it processed. The position is stored in the CRM database in
  the same transaction as the rows the batch produced: nothing is lost or applied twice when
  the bridge stops, restarts or is killed.
- :class:`PikaConsumer` (scale-out): consumes the RabbitMQ queue Rasa's Pika broker publishes
  to; a message is acknowledged only after its transaction committed (at-least-once), and the
  ingestor skips redelivered events.

With several bridge instances on one PostgreSQL CRM, :class:`IngestionWorker` runs its source
only while this instance holds the ingestion lock (:class:`~crm_bridge.core.locks.SessionLock`):
one ingestor at a time, the others stand by and take over when the leader's connection closes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from crm_bridge.core.locks import SessionLock
from crm_bridge.core.storage_faults import classify, log_fault, watch_engine
from crm_bridge.models import IngestCursor
from crm_bridge.services.ingest import EventIngestor, RasaEvent

logger = logging.getLogger(__name__)


ATTEMPTS = 3
"""How often a batch is applied when events of it were stored meanwhile by another writer."""


def _stored_meanwhile(err: BaseException) -> bool:
    """True when ``err`` is the unique key of ``ingested_events``.

    The bridge stores an agent's reply itself (``services/handoff.py``) under the key the
    ingestor gives the same event when Rasa publishes it. When that commit lands between the
    batch's check of seen keys and its insert (under load in both profiles: about once a
    minute), the batch fails on the key; applied again, it skips that event.
    """
    return isinstance(err, IntegrityError) and "ingested_events" in str(err.orig)


def _apply_batch(ingestor: EventIngestor, store: Callable[[], int], source: str) -> int:
    """Run ``store`` (one transaction applying a batch), again when :func:`_stored_meanwhile`.

    Announces the committed batch's messages to the live views, or forgets them on failure.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            stored = store()
        except IntegrityError as err:
            ingestor.rolled_back()
            if attempt == ATTEMPTS or not _stored_meanwhile(err):
                raise
            logger.info(
                "an event of a batch from %s was stored meanwhile by the bridge itself; "
                "applying the batch again (attempt %d)",
                source,
                attempt + 1,
            )
            continue
        except BaseException:
            ingestor.rolled_back()
            raise
        ingestor.committed()
        return stored
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _log_failure(source: str, err: Exception, then: str) -> None:
    """One line for a storage fault (locked, disk full), else the traceback of a bug.

    Either way the batch was rolled back with its position: it is read again on the retry.
    """
    fault = classify(err) if isinstance(err, DBAPIError) else None
    if fault is None:
        logger.exception("event ingestion failed; %s", then)
        return
    log_fault(
        logger,
        fault,
        err,
        during=f"event ingestion from {source}",
        then=f"batch not stored, {then}",
    )


def _source_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # A new connection per poll: a pooled one would keep reading a deleted events.db.
        engine = create_engine(url, connect_args={"timeout": 30}, poolclass=NullPool)
    else:
        engine = create_engine(url)
    watch_engine(engine)
    if url.startswith("sqlite"):
        # WAL lets us read while Rasa writes; the mode sticks to the file. Best effort: the
        # switch fails harmlessly if Rasa holds a write lock at this moment.
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        except OperationalError:
            logger.info("could not switch %s to WAL mode; reading in its current mode", url)
    return engine


class SqlBrokerTail:
    """Tails Rasa's SQL event broker table into the CRM."""

    def __init__(
        self,
        source_url: str,
        crm_sessions: sessionmaker[Session],
        ingestor: EventIngestor,
        batch_size: int = 500,
    ) -> None:
        self.engine = _source_engine(source_url)
        self.crm_sessions = crm_sessions
        self.ingestor = ingestor
        self.batch_size = batch_size
        # The cursor is named after the source, so a second source never reuses a position.
        digest = hashlib.sha256(self.engine.url.render_as_string(hide_password=True).encode())
        self.name = f"rasa-sql-broker:{digest.hexdigest()[:16]}"

    def poll_once(self) -> int:
        """Ingest the next batch of rows; return how many rows were read."""
        return _apply_batch(self.ingestor, self._poll, "rasa-sql-broker")

    def _poll(self) -> int:
        with self.crm_sessions() as session, session.begin():
            cursor = session.get(IngestCursor, self.name, with_for_update=True)
            if cursor is None:
                cursor = IngestCursor(source=self.name, position=0)
                session.add(cursor)
            try:
                with self.engine.connect() as source:
                    rows = source.execute(
                        text(
                            "SELECT id, sender_id, data FROM events WHERE id > :position "
                            "ORDER BY id LIMIT :limit"
                        ),
                        {"position": cursor.position, "limit": self.batch_size},
                    ).all()
            except (OperationalError, ProgrammingError) as err:
                if "events" in str(err) and ("no such table" in str(err) or "exist" in str(err)):
                    return 0  # Rasa has not created its table yet
                raise
            if not rows:
                if cursor.position and self._source_was_reset(cursor.position):
                    logger.warning(
                        "Rasa's event table restarted below position %s (the broker database "
                        "was recreated): reading it from the start; seen events are skipped",
                        cursor.position,
                    )
                    cursor.position = 0
                return 0
            events = []
            for row_id, sender_id, data in rows:
                try:
                    events.append(RasaEvent.from_json(data, sender_id=sender_id))
                except ValueError:
                    logger.warning("skipping malformed broker row id=%s", row_id)
            self.ingestor.apply(session, events)
            cursor.position = rows[-1][0]
        return len(rows)

    def _source_was_reset(self, position: int) -> bool:
        """True when the table's ids end below our position (e.g. ``events.db`` deleted)."""
        with self.engine.connect() as source:
            highest = source.execute(text("SELECT MAX(id) FROM events")).scalar()
        return (highest or 0) < position

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Poll until ``stop`` is set; errors are logged and retried with backoff."""
        delay = interval
        while not stop.is_set():
            try:
                read = self.poll_once()
                delay = interval
            except Exception as err:  # noqa: BLE001 - keep tailing whatever one batch did
                _log_failure("rasa-sql-broker", err, f"retrying in {delay:.1f} s")
                read = 0
                delay = min(delay * 2, 10.0)
            if read < self.batch_size:
                stop.wait(delay)


class IngestionWorker:
    """Runs one event source in a background thread of the bridge process.

    With a ``leader_lock`` (several instances on PostgreSQL) the source runs only while this
    instance holds the lock: a standby tries every ``retry_seconds``, and the leader checks its
    lock connection as often and stops its source when it lost it. Without one (SQLite, a single
    instance) the source simply runs.
    """

    def __init__(
        self,
        run: Callable[[threading.Event], None],
        name: str,
        leader_lock: SessionLock | None = None,
        retry_seconds: float = 5.0,
    ) -> None:
        self.name = name
        self._run = run
        self.lock = leader_lock
        self.retry_seconds = retry_seconds
        self.role = "single" if leader_lock is None else "standby"
        """``single`` (no other instance), ``leader`` or ``standby``; for the health check."""
        self.terms = 0
        """How many times this instance became the leader."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        """Start consuming (or standing by)."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the source to stop, wait for its current batch, give the lock up."""
        self._stop.set()
        self._thread.join(timeout)

    def _main(self) -> None:
        if self.lock is None:
            self._run(self._stop)
            return
        told = False
        try:
            while not self._stop.is_set():
                if self.lock.try_acquire():
                    self._lead(self.lock)
                    told = False
                elif not told:
                    logger.info(
                        "%s: another bridge instance leads ingestion; standing by "
                        "(trying every %.0f s)",
                        self.name,
                        self.retry_seconds,
                    )
                    told = True
                self._stop.wait(self.retry_seconds)
        finally:
            self.lock.dispose()

    def _lead(self, lock: SessionLock) -> None:
        self.role = "leader"
        self.terms += 1
        logger.info(
            "%s: this bridge instance (%s, pid %s) leads ingestion (lock held by backend %s)",
            self.name,
            socket.gethostname(),
            os.getpid(),
            lock.pid,
        )
        term = threading.Event()
        source = threading.Thread(
            target=self._run, args=(term,), name=f"{self.name}-leading", daemon=True
        )
        source.start()
        try:
            while not self._stop.wait(self.retry_seconds):
                if not lock.held():
                    logger.warning(
                        "%s: lost the ingestion lock (its database connection closed); "
                        "stopping ingestion, another instance may take over",
                        self.name,
                    )
                    break
                if not source.is_alive():
                    logger.error("%s: the event source stopped; giving leadership up", self.name)
                    break
        finally:
            term.set()
            source.join(30.0)
            lock.release()
            self.role = "standby"


class PikaConsumer:
    """Consumes Rasa's Pika event broker (RabbitMQ) into the CRM.

    Declares the same topology Rasa does (a non-durable fanout exchange and a durable queue
    bound to it), so that whichever starts first, no event published after that is lost.
    A message is one event (JSON object) or the events of a saved turn (JSON array,
    ``bot/components/pika_broker.py``). Messages are acknowledged after the transaction
    holding their rows committed.
    """

    def __init__(
        self,
        url: str,
        queue: str,
        exchange: str,
        crm_sessions: sessionmaker[Session],
        ingestor: EventIngestor,
        batch_size: int = 500,
    ) -> None:
        self.url = url
        self.queue = queue
        self.exchange = exchange
        self.crm_sessions = crm_sessions
        self.ingestor = ingestor
        self.batch_size = batch_size

    def _store(self, bodies: list[bytes]) -> None:
        events = []
        for body in bodies:
            # One event, or the events of one saved turn (components/pika_broker.py).
            try:
                found, skipped = RasaEvent.many_from_json(body)
            except (ValueError, UnicodeDecodeError):
                found, skipped = [], 1
            events += found
            if skipped:
                logger.warning("skipping %d malformed item(s) on queue %s", skipped, self.queue)

        def store() -> int:
            with self.crm_sessions() as session, session.begin():
                return self.ingestor.apply(session, events)

        _apply_batch(self.ingestor, store, f"queue {self.queue}")

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Consume until ``stop`` is set, reconnecting with backoff."""
        import pika
        from pika.exceptions import AMQPError

        delay = 1.0
        while not stop.is_set():
            try:
                connection = pika.BlockingConnection(pika.URLParameters(self.url))
            except AMQPError as err:
                logger.warning("RabbitMQ unreachable (%s); retrying in %.0f s", err, delay)
                stop.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            try:
                channel = connection.channel()
                channel.exchange_declare(self.exchange, exchange_type="fanout", durable=False)
                channel.queue_declare(self.queue, durable=True)
                channel.queue_bind(self.queue, self.exchange)
                channel.basic_qos(prefetch_count=self.batch_size)
                pending: list[tuple[int, bytes]] = []
                oldest = 0.0
                for method, _properties, body in channel.consume(
                    self.queue, inactivity_timeout=interval
                ):
                    if method is not None:
                        if not pending:
                            oldest = time.monotonic()
                        pending.append((method.delivery_tag, body))
                    # Store when the queue pauses, the batch is full, or its oldest message has
                    # waited ``interval``: under steady traffic the queue never pauses, and a
                    # full batch took seconds to gather (the console saw messages that late).
                    if pending and (
                        method is None
                        or len(pending) >= self.batch_size
                        or time.monotonic() - oldest >= interval
                    ):
                        self._store([b for _, b in pending])
                        channel.basic_ack(pending[-1][0], multiple=True)
                        pending = []
                    if stop.is_set():
                        break
                # Unacknowledged messages go back to the queue when the channel closes.
                channel.cancel()
                connection.close()
            except AMQPError:
                logger.exception("RabbitMQ connection lost; reconnecting")
            except Exception as err:  # noqa: BLE001 - keep consuming whatever one batch did
                _log_failure(f"queue {self.queue}", err, f"reconnecting in {delay:.0f} s")
                with contextlib.suppress(Exception):
                    connection.close()
                stop.wait(delay)
