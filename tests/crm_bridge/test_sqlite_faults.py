"""SQLite faults of the CRM database: locked, disk full, unreachable (docs/faults.md).

Real files, the real app (TestClient, its ingestion worker tailing a real broker table), a real
lock held by another process, and a really full disk: a small tmpfs when this machine lets us
mount one (root), else SQLite's ``max_page_count``, which fails the same way ("database or disk
is full", SQLITE_FULL). Each fault must give the API a 503/507 with a reason (never a 500),
the operator one log line, and ingestion a retry that stores every event exactly once.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, event, func, select
from starlette.websockets import WebSocketDisconnect

from crm_bridge.api.routes.console import TRY_AGAIN_LATER
from crm_bridge.core.config import Settings
from crm_bridge.core.storage_faults import FaultKind, classify
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade
from crm_bridge.models import Customer, IngestCursor, IngestedEvent, Message
from tests.crm_bridge.instances import console_socket, write_broker_rows
from tests.utils import rasa_events as ev
from tests.utils.factories import PASSWORD, make_agent

BUSY_TIMEOUT = 0.3
"""Seconds the bridge waits for a lock here (``?timeout=`` in the URL; default 30)."""

_HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
db.execute("COMMIT")
"""


@contextmanager
def write_lock_held_by_another_process(database: Path) -> Iterator[None]:
    """Another process holds a write transaction on ``database`` until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(10) == 0


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def conversation(sender: str, turns: int) -> list[dict]:
    """``turns`` customer messages with a bot answer each, as Rasa's broker publishes them."""
    events: list[dict] = []
    for i in range(turns):
        events += [ev.user(sender, f"question {i} " + "x" * 400), ev.bot(sender, f"answer {i}")]
    return events


def make_client(
    tmp_path: Path, database: Path, migrate: bool = True, **url_query: str
) -> TestClient:
    """The app on a (migrated) CRM at ``database``, tailing ``tmp_path/events.db``."""
    query = "&".join(f"{k}={v}" for k, v in url_query.items())
    url = f"sqlite:///{database}" + (f"?{query}" if query else "")
    if migrate:
        upgrade(url)
    settings = Settings(
        VAR_DIR=tmp_path / "var",
        DATABASE_URL=url,
        EVENTS_SOURCE="sql",
        EVENTS_DB_URL=f"sqlite:///{tmp_path / 'events.db'}",
        SEED_DEMO=False,
        SENTIMENT_MODEL_DIR=tmp_path / "untrained",  # messages unscored: no model to load
    )
    return TestClient(create_app(settings))


def service(client: TestClient) -> dict[str, str]:
    """Headers of the action server."""
    return {"X-API-Key": client.app.state.settings.api_key.get_secret_value()}


def new_customer(client: TestClient, name: str | None = None) -> tuple[str, Response]:
    """POST a customer (a new one unless ``name`` repeats a request); return name, response."""
    name = name or f"Fault Test {uuid.uuid4().hex[:8]}"
    body = {"name": name, "email": f"{name[-8:]}@example.com", "tags": ["fault-test"]}
    return name, client.post("/api/v1/customers", json=body, headers=service(client))


def create_until_refused(client: TestClient, created: list[str]) -> tuple[str, Response]:
    """Create customers until one is refused (on a full disk, small writes may still fit a page
    that has room; some write soon needs a new one); the names created go to ``created``."""
    for _attempt in range(50):
        name, response = new_customer(client)
        if response.status_code != 201:
            return name, response
        created.append(name)
    raise AssertionError("50 customers stored on a full disk")


class Crm:
    """What the CRM database holds, read with a fresh connection each time."""

    def __init__(self, client: TestClient) -> None:
        self.sessions = client.app.state.session_factory

    def messages(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count(Message.id))) or 0

    def ingested(self) -> tuple[int, int, int]:
        """Stored events, distinct message keys, and the broker position."""
        with self.sessions() as session:
            events = session.scalar(select(func.count()).select_from(IngestedEvent)) or 0
            keys = session.scalar(select(func.count(func.distinct(Message.event_key)))) or 0
            position = session.scalar(select(IngestCursor.position)) or 0
        return events, keys, position

    def customers(self) -> set[str]:
        with self.sessions() as session:
            return set(session.scalars(select(Customer.name)))


def broker_max_id(events_db: Path) -> int:
    with closing(sqlite3.connect(events_db)) as db:
        return db.execute("SELECT MAX(id) FROM events").fetchone()[0]


def fault_records(caplog: pytest.LogCaptureFixture, kind: FaultKind, logger: str) -> list:
    return [
        r
        for r in caplog.records
        if r.name == logger and getattr(r, "storage_fault", None) == kind.value
    ]


# -- database locked -------------------------------------------------------------------------


def test_a_locked_database_answers_503_and_ingestion_waits_for_the_lock(tmp_path, caplog):
    database = tmp_path / "crm.db"
    events_db = tmp_path / "events.db"
    first = conversation("rest:locked-1", 3)
    write_broker_rows(events_db, first)
    with make_client(tmp_path, database, timeout=str(BUSY_TIMEOUT)) as client:
        crm = Crm(client)
        wait_for(lambda: crm.messages() == len(first))
        stored_name, response = new_customer(client)
        assert response.status_code == 201, response.text

        second = conversation("rest:locked-2", 4)
        with write_lock_held_by_another_process(database):
            name, response = new_customer(client)
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "5"
            assert response.json()["error"] == "database_locked"
            assert "another process holds a lock" in response.json()["detail"]
            assert "retry" in response.json()["detail"]
            assert client.get("/health").status_code == 200  # reads go on (WAL)

            write_broker_rows(events_db, second)
            ingest = "crm_bridge.services.event_sources"
            wait_for(lambda: len(fault_records(caplog, FaultKind.LOCKED, ingest)) >= 2)
            assert crm.messages() == len(first)
            assert crm.ingested()[2] == broker_max_id(events_db) - len(second)

        # The lock is gone: the backlog is stored once and the request can be repeated.
        wait_for(lambda: crm.messages() == len(first) + len(second))
        total = len(first) + len(second)
        assert crm.ingested() == (total, total, broker_max_id(events_db))
        _, again = new_customer(client, name)  # the user retries
        assert again.status_code == 201, again.text
        assert crm.customers() == {stored_name, name}

    (api_line,) = fault_records(caplog, FaultKind.LOCKED, "crm_bridge.api.errors")
    assert api_line.levelno == logging.WARNING
    assert api_line.database == str(database.resolve())
    assert "storage_fault=database_locked" in api_line.getMessage()
    assert 'during="POST /api/v1/customers"' in api_line.getMessage()
    assert not [r for r in caplog.records if r.exc_info]  # no tracebacks for a known fault


# -- disk full ---------------------------------------------------------------------------------


class TmpfsDisk:
    """A real small filesystem: filled with a ballast file, freed by deleting it."""

    kind = "tmpfs"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ballast = directory / "ballast"

    def fill(self, database: Path) -> None:
        """Leave no byte free: the next write must grow the WAL, and fails."""
        # Fold the WAL into the database and truncate it: no room left to reuse either.
        with closing(sqlite3.connect(database)) as db:
            wait_for(lambda: db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0)
        with self.ballast.open("wb", buffering=0) as ballast:
            for chunk in (1 << 20, 1 << 12, 1):
                try:
                    while True:
                        ballast.write(b"\0" * chunk)
                except OSError:
                    continue
        assert shutil.disk_usage(self.directory).free == 0

    def attach(self, engine: Engine) -> None:
        """Nothing to do: the filesystem is full for every connection."""

    def free(self) -> None:
        self.ballast.unlink()


class PageLimitDisk:
    """SQLite's own limit (``PRAGMA max_page_count`` on every connection the app checks out):
    the same SQLITE_FULL as a full disk, where no filesystem can be mounted."""

    kind = "max_page_count"
    UNLIMITED = 1_073_741_823

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.limit = self.UNLIMITED

    def _apply(self, dbapi_connection, _record, _proxy) -> None:  # noqa: ANN001
        dbapi_connection.execute(f"PRAGMA max_page_count = {self.limit}")

    def fill(self, database: Path) -> None:
        """No page beyond the current ones."""
        with closing(sqlite3.connect(database)) as db:
            self.limit = db.execute("PRAGMA page_count").fetchone()[0]

    def attach(self, engine: Engine) -> None:
        """Apply the limit to the connections of ``engine`` (pooled ones too)."""
        event.listen(engine, "checkout", self._apply)

    def free(self) -> None:
        self.limit = self.UNLIMITED


def _mount_tmpfs(directory: Path, size: str) -> bool:
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        check=False,
    )
    return mounted.returncode == 0


@pytest.fixture(params=["filesystem", "page_limit"])
def small_disk(request, tmp_path) -> Iterator[TmpfsDisk | PageLimitDisk]:
    """A directory for the CRM database whose disk the test can fill and free.

    ``filesystem`` mounts a 16 MiB tmpfs there, falling back to the page limit where mounting
    is not allowed (not root, no CAP_SYS_ADMIN); ``page_limit`` always uses the page limit.
    """
    directory = tmp_path / "disk"
    directory.mkdir()
    if request.param == "filesystem" and _mount_tmpfs(directory, "16m"):
        try:
            yield TmpfsDisk(directory)
        finally:
            if subprocess.run(["umount", str(directory)], check=False).returncode != 0:
                subprocess.run(["umount", "-l", str(directory)], check=False)
        return
    yield PageLimitDisk(directory)


def test_a_full_disk_answers_507_loses_nothing_and_ingestion_resumes(small_disk, tmp_path, caplog):
    database = small_disk.directory / "crm.db"
    events_db = tmp_path / "events.db"  # Rasa's broker on another disk, as in production
    first = conversation("rest:full-1", 3)
    write_broker_rows(events_db, first)
    with make_client(tmp_path, database) as client:
        engine = client.app.state.engine
        crm = Crm(client)
        wait_for(lambda: crm.messages() == len(first))
        name, response = new_customer(client)
        assert response.status_code == 201, response.text
        stored = [name]

        small_disk.fill(database)
        small_disk.attach(engine)
        name, response = create_until_refused(client, stored)
        assert response.status_code == 507, response.text
        assert response.headers["Retry-After"] == "60"
        assert response.json()["error"] == "disk_full"
        assert "disk is full" in response.json()["detail"]
        if small_disk.kind == "tmpfs":  # a page limit leaves the disk with room
            assert client.get("/health").status_code == 507

        second = conversation("rest:full-2", 10)
        write_broker_rows(events_db, second)
        ingest = "crm_bridge.services.event_sources"
        wait_for(lambda: fault_records(caplog, FaultKind.DISK_FULL, ingest))
        assert crm.messages() == len(first)
        assert crm.ingested()[2] == broker_max_id(events_db) - len(second)

        small_disk.free()
        assert client.get("/health").status_code == 200
        wait_for(lambda: crm.messages() == len(first) + len(second))
        total = len(first) + len(second)
        assert crm.ingested() == (total, total, broker_max_id(events_db))
        _, response = new_customer(client, name)  # the user retries
        assert response.status_code == 201, response.text
        stored.append(name)
        customers = crm.customers()

    # No corruption, and every committed row is there (read by a plain sqlite3 connection).
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        names = {name for (name,) in db.execute("SELECT name FROM customers")}
        assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == total
    assert names == customers
    assert names == set(stored)

    api_lines = fault_records(caplog, FaultKind.DISK_FULL, "crm_bridge.api.errors")
    assert len(api_lines) == 1 and api_lines[0].levelno == logging.ERROR
    line = api_lines[0].getMessage()
    assert line.startswith("disk full: cannot write the database: storage_fault=disk_full")
    assert f"database={database.resolve()}" in line
    assert 'error="database or disk is full"' in line
    if small_disk.kind == "tmpfs":
        assert api_lines[0].free_bytes == "0"
    assert all(
        r.levelno == logging.ERROR for r in fault_records(caplog, FaultKind.DISK_FULL, ingest)
    )
    assert not [r for r in caplog.records if r.exc_info]


def test_a_bridge_started_on_a_full_disk_answers_507_until_space_returns(
    small_disk, tmp_path, caplog
):
    database = small_disk.directory / "crm.db"
    with make_client(tmp_path, database) as client:
        name, response = new_customer(client)
        assert response.status_code == 201, response.text
    stored = [name]
    small_disk.fill(database)  # while the bridge is down
    with make_client(tmp_path, database, migrate=False) as client:
        small_disk.attach(client.app.state.engine)
        name, response = create_until_refused(client, stored)
        # On a real filesystem SQLite cannot even create the WAL index of a new connection
        # ("disk I/O error"); with no byte free that is reported as the full disk it is.
        assert response.status_code == 507, response.text
        assert response.json()["error"] == "disk_full"
        small_disk.free()
        _, response = new_customer(client, name)
        assert response.status_code == 201, response.text
        stored.append(name)
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert {n for (n,) in db.execute("SELECT name FROM customers")} == set(stored)
    (line, *_) = fault_records(caplog, FaultKind.DISK_FULL, "crm_bridge.api.errors")
    assert line.levelno == logging.ERROR and line.database == str(database.resolve())


# -- database unreachable, and what is not a storage fault --------------------------------------


def test_a_database_that_cannot_be_opened_answers_503(tmp_path, caplog):
    database = tmp_path / "volume" / "crm.db"
    with make_client(tmp_path, database) as client:
        name, response = new_customer(client)
        assert response.status_code == 201
        client.app.state.engine.dispose()
        (tmp_path / "volume").rename(tmp_path / "unmounted")  # the volume went away
        _, response = new_customer(client)
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "database_unavailable"
        assert response.headers["Retry-After"] == "30"
        (tmp_path / "unmounted").rename(tmp_path / "volume")
        _, response = new_customer(client)
        assert response.status_code == 201, response.text
    (line,) = fault_records(caplog, FaultKind.UNAVAILABLE, "crm_bridge.api.errors")
    assert "unable to open database file" in line.getMessage()


def _console_token(client: TestClient) -> str:
    with client.app.state.session_factory() as session:
        login = make_agent(session).login
        session.commit()
    form = {"username": login, "password": PASSWORD}
    response = client.post("/api/v1/login/access-token", data=form)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _within(seconds: float, receive: Callable[[], dict]) -> dict:
    """``receive()``'s frame (or its WebSocketDisconnect); fail if nothing comes in time."""
    got: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            got.put((True, receive()))
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            got.put((False, err))

    threading.Thread(target=read, daemon=True).start()
    try:
        ok, value = got.get(timeout=seconds)
    except queue.Empty:
        pytest.fail(f"no frame and no close within {seconds} s: the console hangs")
    if not ok:
        raise value
    return value


def test_a_console_whose_database_goes_away_is_closed_so_it_reconnects(tmp_path, caplog):
    # A console that stayed open with a dead sender would miss every event until its own
    # silence check (50 s); closed with 1013 (try again later) it reconnects within seconds.
    database = tmp_path / "volume" / "crm.db"
    with make_client(tmp_path, database) as client:
        token = _console_token(client)
        with console_socket(client, token) as socket:
            assert socket.receive_json()["type"] == "queue"
            client.app.state.engine.dispose()
            (tmp_path / "volume").rename(tmp_path / "unmounted")
            client.app.state.desk.hub.refresh_queues()
            with pytest.raises(WebSocketDisconnect) as closed:
                _within(10, socket.receive_json)
            assert closed.value.code == TRY_AGAIN_LATER
            assert closed.value.reason == "database_unavailable"
        with pytest.raises(WebSocketDisconnect) as refused, console_socket(client, token) as socket:
            socket.receive_json()
        assert refused.value.code == TRY_AGAIN_LATER
        (tmp_path / "unmounted").rename(tmp_path / "volume")
        with console_socket(client, token) as socket:
            assert socket.receive_json()["type"] == "queue"
    lines = fault_records(caplog, FaultKind.UNAVAILABLE, "crm_bridge.api.routes.console")
    assert len(lines) == 2, [r.getMessage() for r in lines]
    assert not [r for r in caplog.records if r.exc_info]


def test_other_database_errors_stay_bugs(tmp_path):
    with closing(sqlite3.connect(tmp_path / "x.db")) as db:
        with pytest.raises(sqlite3.OperationalError) as missing:
            db.execute("SELECT * FROM nowhere")
        with pytest.raises(sqlite3.OperationalError) as syntax:
            db.execute("SELEC 1")
    assert classify(missing.value) is None
    assert classify(syntax.value) is None
    database = tmp_path / "crm.db"
    with make_client(tmp_path, database) as client:
        with closing(sqlite3.connect(database)) as db:
            db.execute("DROP TABLE audit_log")  # a schema the code does not expect: a bug
        client_500 = TestClient(client.app, raise_server_exceptions=False)
        _, response = new_customer(client_500)
        assert response.status_code == 500  # with its traceback in the log, not a 503
