"""PostgreSQL advisory locks: one ingestor among several bridge instances, serialized steps.

- :func:`xact_lock`: a transaction-level lock (``pg_advisory_xact_lock``), released at commit or
  rollback; serializes a short critical section (automatic assignment, opening a handoff) across
  instances. SQLite needs none: it is the embedded single-process mode.
- :class:`SessionLock`: a session-level lock (``pg_try_advisory_lock``) on a dedicated
  connection, held as long as that connection lives; the leadership of ingestion. When the
  holder dies its connection closes and PostgreSQL frees the lock for another instance.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

# libpq TCP keepalives: a leader cut off from the database notices within about half a minute.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


# A bigint key shows in pg_locks as its high half (classid) and low half (objid), objsubid 1.
HOLDS = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = :pid AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid)"
    " AND objsubid = 1)"
)


class LockLost(RuntimeError):
    """This instance no longer holds the lock it works under (another may hold it now)."""


def advisory_key(name: str) -> int:
    """A stable, positive 63-bit lock key for ``name`` (namespaced to the bridge)."""
    digest = hashlib.sha256(f"crm_bridge:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


def is_postgresql(url_or_session: str | Session) -> bool:
    """Whether a database URL or a session's database is PostgreSQL."""
    if isinstance(url_or_session, Session):
        return url_or_session.get_bind().dialect.name == "postgresql"
    return url_or_session.startswith("postgres")


def xact_lock(session: Session, name: str) -> None:
    """Wait for the transaction-level lock ``name``; it is held until the transaction ends.

    PostgreSQL only; SQLite (one bridge process) needs no lock between instances.
    """
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(name)})


class SessionLock:
    """A session-level advisory lock held on a dedicated connection (leader election)."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.key = advisory_key(name)
        self._engine: Engine = create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",  # never "idle in transaction" while holding it
            connect_args={**KEEPALIVES, "application_name": "crm-bridge lock"},
        )
        self._connection: Connection | None = None
        self.pid: int | None = None
        """The database backend that holds the lock (while held)."""

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.closed:
            self._connection = self._engine.connect()
        return self._connection

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; False when another session does or on errors."""
        try:
            connection = self._connect()
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            ).scalar()
            if got:
                self.pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
                return True
        except DBAPIError as err:
            logger.warning("could not try the lock %r (%s)", self.name, err.__class__.__name__)
            self._drop()
        return False

    def held(self) -> bool:
        """Whether the lock's connection is still alive (a live session keeps its lock)."""
        if self.pid is None or self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
        except DBAPIError:
            self._drop()
            return False
        return True

    def assert_held(self, session: Session) -> None:
        """Raise :class:`LockLost` unless our backend still holds the lock.

        Checked in the caller's transaction: a fence for work done under the lock.
        """
        pid = self.pid
        held = (
            pid is not None
            and session.execute(
                HOLDS, {"pid": pid, "high": self.key >> 32, "low": self.key & 0xFFFF_FFFF}
            ).scalar()
        )
        if not held:
            raise LockLost(f"this instance no longer holds the lock {self.name!r}")

    def release(self) -> None:
        """Give the lock up (closing its connection frees it in any case)."""
        if self._connection is not None and self.pid is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            except DBAPIError:
                pass  # the connection is gone, and the lock with it
        self._drop()

    def _drop(self) -> None:
        self.pid = None
        if self._connection is not None:
            with contextlib.suppress(Exception):  # a broken connection may complain; it is gone
                self._connection.close()
            self._connection = None

    def dispose(self) -> None:
        """Release and close everything."""
        self.release()
        self._engine.dispose()
