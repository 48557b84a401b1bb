"""Database faults that are the storage's, not the code's: locked, disk full, unreachable.

:func:`classify` recognises them in a SQLAlchemy ``OperationalError`` (SQLite result codes,
PostgreSQL SQLSTATEs, else the message), so the API can answer 503 / 507 with a message for the
user instead of a 500, and the ingestion loop can log one clear line and retry. Anything else
(a missing table, a syntax error: also ``OperationalError`` in SQLite) is not a storage fault
and stays a bug. :func:`watch_engine` makes every error of an engine name the database it came
from, which :func:`log_fault` writes (with the free space of its disk when it is full).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

__all__ = [
    "FaultKind",
    "StorageFault",
    "classify",
    "database_of",
    "free_bytes",
    "log_fault",
    "watch_engine",
]

_DATABASE_ATTR = "crm_database"


class FaultKind(StrEnum):
    """What went wrong with the storage (the ``error`` code of the API's answer)."""

    LOCKED = "database_locked"
    DISK_FULL = "disk_full"
    UNAVAILABLE = "database_unavailable"


@dataclass(frozen=True)
class StorageFault:
    """A recognised storage fault: what it is and how the API answers it."""

    kind: FaultKind
    status_code: int
    retry_after: int
    """Seconds a client should wait before retrying (the ``Retry-After`` header)."""
    detail: str
    """What the user is told (no paths, no SQL)."""
    error: str
    """The driver's own message, for the log."""


_DETAILS = {
    FaultKind.LOCKED: (
        503,
        5,
        "The database is busy: another process holds a lock on it. The request was not "
        "completed; please retry in a few seconds.",
    ),
    # 507 Insufficient Storage: the server cannot store what the request needs. Retrying
    # does not help until an administrator frees space, unlike the transient 503 above.
    FaultKind.DISK_FULL: (
        507,
        60,
        "The server's disk is full, so this request could not be saved; data already stored "
        "is safe. Please retry once an administrator has freed disk space.",
    ),
    FaultKind.UNAVAILABLE: (
        503,
        30,
        "The database cannot be reached or written right now. The request was not "
        "completed; please retry later.",
    ),
}

# SQLite primary result codes (the low byte of extended codes such as SQLITE_BUSY_SNAPSHOT).
_SQLITE_CODES = {
    5: FaultKind.LOCKED,  # SQLITE_BUSY: "database is locked"
    6: FaultKind.LOCKED,  # SQLITE_LOCKED: "database table is locked"
    15: FaultKind.LOCKED,  # SQLITE_PROTOCOL: a WAL lock race that did not resolve
    13: FaultKind.DISK_FULL,  # SQLITE_FULL: "database or disk is full"
    8: FaultKind.UNAVAILABLE,  # SQLITE_READONLY: e.g. the file or its filesystem read-only
    10: FaultKind.UNAVAILABLE,  # SQLITE_IOERR: "disk I/O error"
    14: FaultKind.UNAVAILABLE,  # SQLITE_CANTOPEN: "unable to open database file"
}
# PostgreSQL SQLSTATEs (classes 08 connection, 53 insufficient resources, 55P03 lock timeout).
_SQLSTATE_PREFIXES = (
    ("53100", FaultKind.DISK_FULL),
    ("55P03", FaultKind.LOCKED),
    ("40P01", FaultKind.LOCKED),
    ("57P0", FaultKind.UNAVAILABLE),  # the server shutting down or restarting
    ("08", FaultKind.UNAVAILABLE),
)
_MESSAGES = (
    ("database is locked", FaultKind.LOCKED),
    ("database table is locked", FaultKind.LOCKED),
    ("database or disk is full", FaultKind.DISK_FULL),
    ("no space left on device", FaultKind.DISK_FULL),
    ("unable to open database file", FaultKind.UNAVAILABLE),
    ("disk i/o error", FaultKind.UNAVAILABLE),
    ("attempt to write a readonly database", FaultKind.UNAVAILABLE),
    # PostgreSQL down or restarting: libpq reports these before any SQLSTATE exists.
    ("connection refused", FaultKind.UNAVAILABLE),
    ("server closed the connection unexpectedly", FaultKind.UNAVAILABLE),
    ("the database system is starting up", FaultKind.UNAVAILABLE),
    ("the database system is in recovery mode", FaultKind.UNAVAILABLE),
)


def _kind_of(orig: BaseException) -> FaultKind | None:
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _SQLITE_CODES:
        return _SQLITE_CODES[code & 0xFF]
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str):
        for prefix, kind in _SQLSTATE_PREFIXES:
            if sqlstate.startswith(prefix):
                return kind
    message = str(orig).lower()
    return next((kind for text, kind in _MESSAGES if text in message), None)


def classify(err: BaseException) -> StorageFault | None:
    """The storage fault behind ``err`` (a SQLAlchemy or DB-API error), or None.

    SQLite reports some writes to a full disk as I/O errors ("disk I/O error", e.g.
    SQLITE_IOERR_SHMSIZE when a new connection cannot create its ``-shm`` file): an I/O error
    on a database whose disk has no free byte left is a full disk.
    """
    orig = getattr(err, "orig", None) or err
    kind = _kind_of(orig)
    if kind is None:
        return None
    if kind == FaultKind.UNAVAILABLE and _free_bytes(database_of(err)) == 0:
        kind = FaultKind.DISK_FULL
    status_code, retry_after, detail = _DETAILS[kind]
    return StorageFault(kind, status_code, retry_after, detail, str(orig).strip())


def free_bytes(engine: Engine) -> int | None:
    """Bytes free on the disk of ``engine``'s SQLite file (None: not a file, or unknown)."""
    return _free_bytes(_location(engine))


def _location(engine: Engine) -> str:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return str(Path(url.database).resolve()) if url.database else ":memory:"
    return url.render_as_string(hide_password=True)


def watch_engine(engine: Engine) -> Engine:
    """Make the errors of ``engine`` carry its database's location (see :func:`database_of`)."""
    location = _location(engine)

    @event.listens_for(engine, "handle_error")
    def _remember_database(context: ExceptionContext) -> None:
        if context.sqlalchemy_exception is not None:
            setattr(context.sqlalchemy_exception, _DATABASE_ATTR, location)

    return engine


def database_of(err: BaseException) -> str | None:
    """Where the database of ``err`` is (a path or a URL without password), if known."""
    return getattr(err, _DATABASE_ATTR, None)


def _free_bytes(database: str | None) -> int | None:
    if not database or "://" in database or database == ":memory:":
        return None
    try:
        return shutil.disk_usage(Path(database).parent).free
    except OSError:
        return None


def log_fault(
    logger: logging.Logger, fault: StorageFault, err: BaseException, during: str, then: str
) -> None:
    """Log one line about ``fault``: error level if an operator must act, else warning.

    The line is ``key=value`` for log search, and the same fields go in ``extra`` for
    structured handlers.
    """
    database = database_of(err) or "unknown"
    free = _free_bytes(database) if fault.kind == FaultKind.DISK_FULL else None
    fields = {
        "storage_fault": fault.kind.value,
        "database": database,
        "during": during,
        "then": then,
    }
    if free is not None:
        fields["free_bytes"] = str(free)
    level = logging.WARNING if fault.kind == FaultKind.LOCKED else logging.ERROR
    headline = {
        FaultKind.LOCKED: "database locked by another process",
        FaultKind.DISK_FULL: "disk full: cannot write the database",
        FaultKind.UNAVAILABLE: "database unavailable",
    }[fault.kind]
    pairs = " ".join(f"{key}={_quoted(value)}" for key, value in fields.items())
    logger.log(
        level,
        "%s: %s error=%s",
        headline,
        pairs,
        _quoted(fault.error),
        extra={**fields, "db_error": fault.error},
    )


def _quoted(value: str) -> str:
    if value and not any(c in value for c in ' "='):
        return value
    return json.dumps(value, ensure_ascii=False)
