"""Back up and restore the CRM database (``crm-bridge backup`` / ``crm-bridge restore``).

SQLite (embedded profile): the backup is taken with SQLite's online backup API, one step in one
read transaction, so it is a consistent snapshot while the bridge keeps writing (WAL mode:
readers never block the writer). The result is a self-contained SQLite file (rollback journal,
no ``-wal`` beside it). A restore checks the file (header, length, ``integrity_check``, schema
revision), migrates a copy in the target's folder if the backup is older than the code, and
only then swaps it in with ``os.replace``: the database is either the old one or the restored
one, never half of each. The bridge must be stopped first; a process that has the file open is
detected (Linux ``/proc``) and the restore refused.

PostgreSQL (scale-out profile): ``pg_dump --format=custom`` (one repeatable-read snapshot, so
consistent under writes); restored with ``pg_restore --clean --if-exists --no-owner``, whose
script ``psql`` runs in one transaction that is committed only when the whole archive was read,
so a damaged archive leaves the database as it was.

Either way a backup whose Alembic revision this code does not know (made by a newer version) is
refused, and an older one is migrated to the newest schema after the restore. Passwords in the
database URL are never printed nor passed on a command line (``PGPASSWORD``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from glob import glob
from pathlib import Path
from typing import Literal

from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import create_engine, inspect, literal, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from crm_bridge.migrations import alembic_config, upgrade
from crm_bridge.models import Base

__all__ = [
    "BackupError",
    "BackupResult",
    "RestoreResult",
    "backup",
    "default_backup_path",
    "describe_database",
    "has_data",
    "head_revision",
    "pg_tool",
    "processes_using",
    "restore",
]

Kind = Literal["sqlite", "postgresql"]

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
SUFFIXES: dict[Kind, str] = {"sqlite": ".sqlite3", "postgresql": ".pgdump"}
CRM_TABLES = frozenset(Base.metadata.tables) | {"alembic_version"}
"""Tables of the CRM (this code's models plus Alembic's bookkeeping)."""


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    """A backup that was written."""

    path: Path
    size: int
    """Bytes."""
    revision: str | None
    """The Alembic revision of the schema in the backup."""
    kind: Kind


@dataclass(frozen=True)
class RestoreResult:
    """A restore that was done."""

    backup_revision: str
    """The Alembic revision the backup was taken at."""
    revision: str
    """The revision the database is at now (the newest: older backups are migrated)."""
    migrated: bool
    kind: Kind


# -- shared ------------------------------------------------------------------------------------


def _kind(database_url: str) -> Kind:
    backend = make_url(database_url).get_backend_name()
    if backend == "sqlite":
        return "sqlite"
    if backend == "postgresql":
        return "postgresql"
    raise BackupError(f"backups of {backend} databases are not supported (SQLite, PostgreSQL)")


def describe_database(database_url: str) -> str:
    """The database for a message: the SQLite file, or the URL with its password hidden."""
    if _kind(database_url) == "sqlite":
        return f"SQLite {_sqlite_path(database_url)}"
    url = make_url(database_url)
    return f"PostgreSQL {url.render_as_string(hide_password=True)}"


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    """The newest Alembic revision this code knows."""
    head = _script().get_current_head()
    assert head is not None, "the bridge has migrations"
    return head


def _needs_migration(revision: str | None) -> bool:
    """Whether a backup at ``revision`` must be migrated after the restore.

    Raises:
        BackupError: no revision (not a CRM backup), or one this code does not know.
    """
    if revision is None:
        raise BackupError(
            "the file is not a CRM backup: it has no schema revision (no alembic_version table)"
        )
    head = head_revision()
    try:
        known = _script().get_revision(revision) is not None
    except (CommandError, RevisionError):
        known = False
    if not known:
        raise BackupError(
            f"the backup is at schema revision {revision}, which this code does not know (its "
            f"newest is {head}): it was made by a newer version of the CRM bridge (or it is not "
            "a CRM backup at all). Upgrade the code first, then restore"
        )
    return revision != head


def default_backup_path(var_dir: Path, database_url: str, now: datetime | None = None) -> Path:
    """``VAR_DIR/backups/crm-<UTC time>.sqlite3`` (or ``.pgdump``)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return var_dir / "backups" / f"crm-{stamp}{SUFFIXES[_kind(database_url)]}"


def _private_temp_beside(path: Path, label: str) -> Path:
    """Create an empty file only the owner can read, in ``path``'s folder (same file system)."""
    temp = path.with_name(f".{path.name}.{label}-{secrets.token_hex(4)}")
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return temp


def _remove_with_sidecars(path: Path) -> None:
    for candidate in (path, *_sqlite_sidecars(path)):
        candidate.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _commit_file(temp: Path, final: Path) -> None:
    """Durably move the finished ``temp`` to ``final`` (atomic within one file system)."""
    _fsync(temp)
    os.replace(temp, final)
    with suppress(OSError):  # not every file system syncs directories
        _fsync(final.parent)


def has_data(database_url: str) -> bool:
    """True when any CRM table of the database has a row (a missing SQLite file has none).

    Raises:
        BackupError: the database cannot be reached.
    """
    if _kind(database_url) == "sqlite" and not _sqlite_path(database_url).exists():
        return False
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            present = CRM_TABLES & set(inspect(connection).get_table_names())
            return any(
                connection.execute(select(literal(1)).select_from(table(name)).limit(1)).first()
                for name in sorted(present - {"alembic_version"})
            )
    except SQLAlchemyError as err:
        raise BackupError(
            f"cannot read {describe_database(database_url)}: {err.__class__.__name__}: "
            f"{getattr(err, 'orig', None) or err}"
        ) from err
    finally:
        engine.dispose()


def backup(database_url: str, out: Path) -> BackupResult:
    """Write a consistent backup of the CRM database to ``out`` (replaced if it exists).

    Safe while the bridge runs and writes. The file is written beside ``out`` first and renamed
    when complete, readable by its owner only (it holds personal data).

    Raises:
        BackupError: the database cannot be read, or the tools are missing.
    """
    kind = _kind(database_url)
    out = out.expanduser().absolute()
    if out.is_dir():
        raise BackupError(f"{out} is a folder: name the backup file (--out FILE)")
    if not out.parent.exists():
        out.parent.mkdir(parents=True, mode=0o700)
    if kind == "sqlite":
        revision = _backup_sqlite(_sqlite_path(database_url), out)
    else:
        revision = _backup_postgresql(database_url, out)
    return BackupResult(path=out, size=out.stat().st_size, revision=revision, kind=kind)


def restore(database_url: str, backup_file: Path, *, force: bool = False) -> RestoreResult:
    """Replace the CRM database with ``backup_file``, then migrate it to the newest schema.

    Args:
        database_url: the CRM database to overwrite.
        backup_file: a file written by :func:`backup` for the same kind of database.
        force: overwrite a CRM that has data (without it, only an empty or missing one).

    Raises:
        BackupError: the file is not a usable backup (the database is then left untouched),
            the CRM has data and ``force`` is not set, or the database is in use.
    """
    kind = _kind(database_url)
    if not backup_file.is_file():
        raise BackupError(f"no backup file at {backup_file}")
    with backup_file.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    expected = SQLITE_MAGIC if kind == "sqlite" else PG_DUMP_MAGIC
    if not head.startswith(expected):
        other = "a SQLite backup" if head.startswith(SQLITE_MAGIC) else None
        if head.startswith(PG_DUMP_MAGIC):
            other = "a PostgreSQL (pg_dump) backup"
        what = f"it is {other}" if other else "its header is neither SQLite's nor pg_dump's"
        raise BackupError(
            f"{backup_file} is not a backup of this CRM's kind ({kind}): {what}; "
            "nothing was changed"
        )
    if kind == "sqlite":
        return _restore_sqlite(database_url, backup_file, force=force)
    return _restore_postgresql(database_url, backup_file, force=force)


def _refuse_if_has_data(database_url: str, force: bool) -> None:
    if force:
        return  # not even read: restoring over a damaged database is a reason to restore
    try:
        data = has_data(database_url)
    except BackupError as err:
        raise BackupError(f"{err}. If it is damaged, restore with --force") from err
    if data:
        raise BackupError(
            f"{describe_database(database_url)} already has data; a restore would replace it. "
            "Back it up first (crm-bridge backup), then restore with --force"
        )


# -- SQLite ------------------------------------------------------------------------------------


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("only a SQLite database in a file can be backed up or restored")
    return Path(database).expanduser().absolute()


def _sqlite_sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _sqlite_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _backup_sqlite(source: Path, out: Path) -> str | None:
    if not source.is_file():
        raise BackupError(f"there is no CRM database at {source}")
    temp = _private_temp_beside(out, "partial")
    try:
        with (
            closing(sqlite3.connect(source, timeout=30)) as live,
            closing(sqlite3.connect(temp)) as copy,
        ):
            # pages=-1: every page in one step, i.e. one read transaction: a consistent snapshot
            # (with WAL the bridge keeps writing meanwhile).
            live.backup(copy, pages=-1)
            # A self-contained file: no -wal beside it to copy or forget.
            copy.execute("PRAGMA journal_mode=DELETE")
            check = copy.execute("PRAGMA quick_check").fetchone()[0]
            revision = _sqlite_revision(copy)
        if check != "ok":
            raise BackupError(f"the copy of {source} fails SQLite's check: {check}")
        _commit_file(temp, out)
    except sqlite3.Error as err:
        raise BackupError(f"could not back up {source}: {err}") from err
    finally:
        _remove_with_sidecars(temp)
    return revision


def _check_sqlite_length(path: Path) -> None:
    """Refuse a SQLite file shorter than its header says (a truncated copy)."""
    with path.open("rb") as handle:
        header = handle.read(100)
    size = path.stat().st_size
    if len(header) < 100:
        raise BackupError(f"{path} is truncated ({size} bytes); nothing was changed")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_valid = header[24:28] == header[92:96]  # the page count is kept up to date
    if page_size < 512 or size % page_size or (header_valid and pages and size < pages * page_size):
        raise BackupError(
            f"{path} is truncated or damaged ({size} bytes, the header promises "
            f"{pages * page_size}); nothing was changed"
        )


def processes_using(path: Path) -> list[int]:
    """Ids of other processes that have the SQLite database (or its WAL) open.

    Linux only (``/proc``), and only processes this user may inspect; elsewhere empty.
    """
    targets = {os.path.realpath(p) for p in (path, *_sqlite_sidecars(path))}
    proc = Path("/proc")
    found: list[int] = []
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) in targets for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)


def _retire_sqlite_files(target: Path) -> None:
    """Fold the old database's WAL into it and remove the side files before the swap.

    A WAL left beside the restored file would be replayed into it and corrupt it.
    """
    if target.exists():
        with suppress(sqlite3.DatabaseError):  # a damaged database is replaced all the same
            with closing(sqlite3.connect(target, timeout=30)) as old:
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for sidecar in _sqlite_sidecars(target):
        sidecar.unlink(missing_ok=True)


def _keep_ownership(target: Path, temp: Path) -> None:
    """Give the restored file the old one's mode and owner (a new one stays owner-only)."""
    if not target.exists():
        return
    status = target.stat()
    os.chmod(temp, status.st_mode & 0o777)
    with suppress(OSError):  # only root may give a file away
        os.chown(temp, status.st_uid, status.st_gid)


def _restore_sqlite(database_url: str, backup_file: Path, *, force: bool) -> RestoreResult:
    target = _sqlite_path(database_url)
    _check_sqlite_length(backup_file)
    if users := processes_using(target):
        raise BackupError(
            f"{target} is open in process(es) {', '.join(map(str, users))} (a running bridge?). "
            "Stop the bridge first, then restore"
        )
    _refuse_if_has_data(database_url, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _private_temp_beside(target, "restoring")
    try:
        shutil.copyfile(backup_file, temp)
        try:
            with closing(sqlite3.connect(temp)) as copy:
                problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
                revision = _sqlite_revision(copy)
                copy.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.DatabaseError as err:
            raise BackupError(f"{backup_file} is damaged ({err}); nothing was changed") from err
        if problems != ["ok"]:
            raise BackupError(
                f"{backup_file} is damaged ({'; '.join(problems[:3])}); nothing was changed"
            )
        migrated = _needs_migration(revision)
        assert revision is not None
        if migrated:
            upgrade(f"sqlite:///{temp}")
        _keep_ownership(target, temp)
        _retire_sqlite_files(target)
        _commit_file(temp, target)
    finally:
        _remove_with_sidecars(temp)
    return RestoreResult(
        backup_revision=revision, revision=head_revision(), migrated=migrated, kind="sqlite"
    )


# -- PostgreSQL --------------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """Path of a PostgreSQL client program: on ``PATH``, else the newest Debian install."""
    if found := shutil.which(name):
        return found

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", Path(path).parents[1].name))

    candidates = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version, reverse=True)
    if candidates:
        return candidates[0]
    raise BackupError(
        f"{name} is not installed: install the PostgreSQL client tools (Debian: "
        "postgresql-client) at the server's major version or newer, or put them on PATH"
    )


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and an environment carrying it."""
    url = make_url(database_url)
    params: dict[str, str] = {}
    for key, value in url.query.items():
        params[key] = value[-1] if isinstance(value, tuple) else value
    for key, value in (
        ("host", url.host),
        ("port", url.port),
        ("user", url.username),
        ("dbname", url.database),
    ):
        if value is not None:
            params[key] = str(value)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    conninfo = " ".join(f"{key}={_conninfo_value(value)}" for key, value in params.items())
    return conninfo, env


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def _tool_error(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    return "; ".join(lines[-3:]) or f"exit status {result.returncode}"


def _archive_revision(archive: Path) -> str | None:
    """The Alembic revision recorded in a pg_dump archive (read without a database)."""
    result = _run(
        [pg_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(archive)]
    )
    if result.returncode != 0:
        raise BackupError(
            f"{archive} is not a readable pg_dump archive ({_tool_error(result)}); "
            "nothing was changed"
        )
    rows: list[str] = []
    copying = False
    for line in result.stdout.splitlines():
        if line.startswith("COPY ") and "alembic_version" in line:
            copying = True
        elif copying and line == "\\.":
            break
        elif copying:
            rows.append(line.strip())
    return rows[0] if rows else None


def _archive_tables(archive: Path) -> set[str]:
    """Names of the tables in a pg_dump archive; also checks that the whole file is there."""
    result = _run([pg_tool("pg_restore"), "--list", str(archive)])
    if result.returncode != 0:
        raise BackupError(
            f"{archive} is not a readable pg_dump archive ({_tool_error(result)}); "
            "nothing was changed"
        )
    pattern = re.compile(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ")
    return {m.group(1) for line in result.stdout.splitlines() if (m := pattern.match(line))}


def _backup_postgresql(database_url: str, out: Path) -> str | None:
    conninfo, env = _libpq(database_url)
    temp = _private_temp_beside(out, "partial")
    try:
        result = _run(
            [
                pg_tool("pg_dump"),
                "--format=custom",
                "--no-password",
                f"--file={temp}",
                f"--dbname={conninfo}",
            ],
            env,
        )
        if result.returncode != 0:
            raise BackupError(
                f"pg_dump of {describe_database(database_url)} failed: {_tool_error(result)}"
            )
        revision = _archive_revision(temp)
        _commit_file(temp, out)
    finally:
        temp.unlink(missing_ok=True)
    return revision


def _other_sessions(database_url: str) -> list[str]:
    """Application names of the other client sessions on the database (running bridges?)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    text(
                        "SELECT coalesce(nullif(application_name, ''), '?') "
                        "FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                    )
                ).scalars()
            )
    except SQLAlchemyError as err:
        raise BackupError(
            f"cannot connect to {describe_database(database_url)}: "
            f"{getattr(err, 'orig', None) or err}"
        ) from err
    finally:
        engine.dispose()


def _restore_postgresql(database_url: str, archive: Path, *, force: bool) -> RestoreResult:
    tables = _archive_tables(archive)
    revision = _archive_revision(archive)
    if "alembic_version" not in tables:
        revision = None
    migrated = _needs_migration(revision)
    assert revision is not None
    if sessions := _other_sessions(database_url):
        raise BackupError(
            f"{len(sessions)} other session(s) are connected to "
            f"{describe_database(database_url)} (applications: "
            f"{', '.join(sorted(set(sessions)))}). Stop every bridge first, then restore"
        )
    _refuse_if_has_data(database_url, force)
    _pg_restore(database_url, archive, drop=sorted(CRM_TABLES - tables))
    if migrated:
        upgrade(database_url)
    return RestoreResult(
        backup_revision=revision, revision=head_revision(), migrated=migrated, kind="postgresql"
    )


def _pg_restore(database_url: str, archive: Path, drop: list[str]) -> None:
    """Run ``pg_restore --clean --if-exists --no-owner`` through psql in one transaction.

    The transaction also drops the CRM tables the archive does not have (made by migrations
    newer than the backup, which will be made again), and is committed only when pg_restore
    read the whole archive: any error leaves the database as it was.
    """
    conninfo, env = _libpq(database_url)
    preamble = "SET client_min_messages = warning;\nBEGIN;\n" + "".join(
        f'DROP TABLE IF EXISTS "{name}" CASCADE;\n' for name in drop
    )
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as psql_errors:
        psql = subprocess.Popen(
            [pg_tool("psql"), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", conninfo],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_errors,
            env=env,
        )
        reader = subprocess.Popen(
            [
                pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--file=-",
                str(archive),
            ],
            stdout=subprocess.PIPE,
            stderr=restore_errors,
        )
        assert psql.stdin is not None and reader.stdout is not None
        committed = False
        try:
            psql.stdin.write(preamble.encode())
            shutil.copyfileobj(reader.stdout, psql.stdin, 1 << 16)
        except BrokenPipeError:
            pass  # psql stopped at an error: reported below
        finally:
            reader.stdout.close()
            reader_status = reader.wait()
            if reader_status == 0 and psql.poll() is None:
                with suppress(BrokenPipeError):
                    psql.stdin.write(b"COMMIT;\n")
                    committed = True
            with suppress(BrokenPipeError):
                psql.stdin.close()  # without COMMIT: the session ends, the transaction rolls back
            psql_status = psql.wait()
        if reader_status != 0:
            restore_errors.seek(0)
            message = _tool_error(
                subprocess.CompletedProcess([], reader_status, "", restore_errors.read().decode())
            )
            raise BackupError(f"{archive} could not be read ({message}); nothing was changed")
        if psql_status != 0 or not committed:
            psql_errors.seek(0)
            message = _tool_error(
                subprocess.CompletedProcess([], psql_status, "", psql_errors.read().decode())
            )
            raise BackupError(
                f"restoring into {describe_database(database_url)} failed ({message}); "
                "the transaction was rolled back, nothing was changed"
            )
