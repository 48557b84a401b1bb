"""Database engine and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.core.storage_faults import watch_engine

SQLITE_BUSY_TIMEOUT = 30.0
"""Seconds a SQLite statement waits for another process's write lock before it fails with
"database is locked" (then the API answers 503 and ingestion retries). A ``timeout`` in the URL
(``sqlite:///var/crm.db?timeout=5``) overrides it."""


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite gets WAL mode, foreign keys and a busy timeout.

    Errors of the engine name its database (:func:`~crm_bridge.core.storage_faults.watch_engine`).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {} if "timeout" in parsed.query else {"timeout": SQLITE_BUSY_TIMEOUT}
        engine = create_engine(url, connect_args=connect_args)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return watch_engine(engine)
    return watch_engine(create_engine(url, pool_pre_ping=True))


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def iter_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield one session and close it afterwards (a FastAPI dependency body)."""
    with factory() as session:
        yield session
