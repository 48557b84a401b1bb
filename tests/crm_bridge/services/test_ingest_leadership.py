"""One ingestor among several bridge instances on one PostgreSQL CRM (issue 9).

Two ingestion workers built as the app builds them: one leads (an advisory lock on its own
connection), the other stands by; when the leader dies its connection closes and the other
takes over within a few seconds, from where the leader stopped, storing nothing twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text

from crm_bridge.core.config import Settings
from crm_bridge.core.db import make_engine, session_factory
from crm_bridge.main import ingestion_worker
from crm_bridge.migrations import upgrade
from crm_bridge.models import Message
from crm_bridge.services.event_sources import IngestionWorker
from tests.crm_bridge.instances import write_broker_rows
from tests.utils import rasa_events as ev
from tests.utils.databases import postgres_database
from tests.utils.rabbit import RABBIT_URL, test_broker


class Recorder:
    """Stands in for the handoff desk: what each worker stored (after commit)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def on_ingested(self, notices: list[dict[str, Any]]) -> None:
        self.texts += [n["message"]["text"] for n in notices]


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def crm(tmp_path):
    with postgres_database() as url:
        upgrade(url)
        engine = make_engine(url)
        yield url, session_factory(engine)
        engine.dispose()


def _stored(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count(Message.id)))


def _workers(settings: Settings, sessions, count: int = 2):
    recorders = [Recorder() for _ in range(count)]
    workers = [ingestion_worker(settings, sessions, None, r) for r in recorders]  # type: ignore[arg-type]
    return workers, recorders


def _events(prefix: str, n: int) -> list[dict]:
    return [ev.user(f"rest:{prefix}-{i % 3}", f"{prefix} message {i}") for i in range(n)]


def test_one_instance_ingests_and_the_other_takes_over_when_it_dies(crm, tmp_path):
    url, sessions = crm
    events_db = tmp_path / "events.db"
    settings = Settings(
        VAR_DIR=tmp_path,
        DATABASE_URL=url,
        EVENTS_SOURCE="sql",
        EVENTS_DB_URL=f"sqlite:///{events_db}",
        INGEST_LEADER_RETRY_SECONDS=0.5,
        INGEST_BATCH_SIZE=7,
    )
    (first, second), (seen_first, seen_second) = _workers(settings, sessions)
    assert isinstance(first, IngestionWorker) and first.lock is not None
    first.start()
    _wait(lambda: first.role == "leader")
    second.start()
    try:
        time.sleep(1.5)  # three attempts of the standby
        assert second.role == "standby"
        write_broker_rows(events_db, _events("lead", 30))
        _wait(lambda: _stored(sessions) == 30)
        time.sleep(1.0)
        assert len(seen_first.texts) == 30 and seen_second.texts == []

        # The leader dies: its database session ends (the lock with it), its thread stops.
        with sessions() as session:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first.lock.pid})
        first.stop()
        took = _wait(lambda: second.role == "leader")
        assert took < 5.0
        write_broker_rows(events_db, _events("next", 20))
        _wait(lambda: _stored(sessions) == 50)
        time.sleep(1.0)
        assert _stored(sessions) == 50
        assert len(seen_second.texts) == 20  # it went on from where the leader stopped
        assert sorted(seen_first.texts + seen_second.texts) == sorted(
            e["text"] for e in _events("lead", 30) + _events("next", 20)
        )
    finally:
        first.stop()
        second.stop()
    assert second.role == "standby"


def test_a_leader_that_lost_its_lock_stops_and_leads_again(crm, tmp_path, caplog):
    url, sessions = crm
    events_db = tmp_path / "events.db"
    settings = Settings(
        VAR_DIR=tmp_path,
        DATABASE_URL=url,
        EVENTS_SOURCE="sql",
        EVENTS_DB_URL=f"sqlite:///{events_db}",
        INGEST_LEADER_RETRY_SECONDS=0.3,
    )
    (worker,), (seen,) = _workers(settings, sessions, count=1)
    worker.start()
    try:
        _wait(lambda: worker.role == "leader")
        old_pid = worker.lock.pid
        with sessions() as session:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": old_pid})
        _wait(lambda: worker.terms == 2 and worker.role == "leader")
        assert worker.lock.pid != old_pid
        assert "lost the ingestion lock" in caplog.text
        write_broker_rows(events_db, _events("again", 10))
        _wait(lambda: _stored(sessions) == 10)
        assert len(seen.texts) == 10
    finally:
        worker.stop()


def test_a_batch_is_refused_once_the_lock_is_gone(crm, tmp_path):
    from crm_bridge.core.locks import LockLost, SessionLock

    url, sessions = crm
    lock = SessionLock(url, f"test-{uuid.uuid4().hex}")
    other = SessionLock(url, lock.name)
    try:
        assert lock.try_acquire() and not other.try_acquire()
        with sessions() as session:
            lock.assert_held(session)
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lock.pid})
        with sessions() as session, pytest.raises(LockLost):
            lock.assert_held(session)
        assert not lock.held()
        assert other.try_acquire()  # freed with the session that held it
    finally:
        lock.dispose()
        other.dispose()


def test_sqlite_needs_no_leader(tmp_path):
    settings = Settings(VAR_DIR=tmp_path, EVENTS_SOURCE="sql")
    worker = ingestion_worker(settings, session_factory(make_engine(settings.database_url)), None)
    assert worker is not None and worker.lock is None and worker.role == "single"


@pytest.fixture
def rabbit():
    with test_broker("csa-test-lead") as made:
        yield made.queue, made.exchange, made.publish, made.consumers


def test_only_the_leader_consumes_the_rabbitmq_queue(crm, tmp_path, rabbit):
    url, sessions = crm
    queue, exchange, publish, consumers = rabbit
    settings = Settings(
        VAR_DIR=tmp_path,
        DATABASE_URL=url,
        EVENTS_SOURCE="pika",
        PIKA_URL=RABBIT_URL,
        PIKA_QUEUE=queue,
        PIKA_EXCHANGE=exchange,
        INGEST_LEADER_RETRY_SECONDS=0.5,
        INGEST_BATCH_SIZE=5,
    )
    (first, second), (seen_first, seen_second) = _workers(settings, sessions)
    first.start()
    _wait(lambda: first.role == "leader")
    second.start()
    try:
        _wait(lambda: consumers() == 1)
        time.sleep(1.5)
        assert consumers() == 1 and second.role == "standby"
        publish(_events("pika-lead", 20))
        _wait(lambda: _stored(sessions) == 20)
        first.stop()  # its consumer goes, unacknowledged messages back to the queue
        _wait(lambda: second.role == "leader")
        _wait(lambda: consumers() == 1)
        publish(_events("pika-next", 15))
        _wait(lambda: _stored(sessions) == 35)
        time.sleep(1.0)
        assert _stored(sessions) == 35
        assert len(seen_first.texts) == 20 and len(seen_second.texts) == 15
    finally:
        first.stop()
        second.stop()
