"""Back-up and restore of the CRM (``crm-bridge backup`` / ``restore``), SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.pool import NullPool

from crm_bridge import backup as backups
from crm_bridge.cli import main
from crm_bridge.core.db import make_engine, session_factory
from crm_bridge.migrations import alembic_config, upgrade
from crm_bridge.models import Customer, Order
from crm_bridge.services import demo_seed
from tests.utils.databases import database

KEY_TABLES = [
    "customers",
    "customer_identities",
    "orders",
    "order_status_changes",
    "points_transactions",
    "agents",
]
PASSWORD = "never-printed-s3cret"


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request) -> str:
    return request.param


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch) -> None:
    """The demo agents' argon2 hashes take a second per database and are not tested here."""
    monkeypatch.setattr(demo_seed, "hash_password", lambda password: f"not-a-hash-{password}")


@pytest.fixture
def source(kind, tmp_path) -> Iterator[str]:
    """A migrated CRM with the demo shop's data (PostgreSQL: its URL carries a password)."""
    with database(kind, tmp_path / "source") as url:
        if kind == "postgresql":  # trust authentication ignores it; it must never be shown
            url = make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine)() as session, session.begin():
            demo_seed.seed_demo(session)
        engine.dispose()
        yield url


@pytest.fixture
def target(kind, tmp_path) -> Iterator[str]:
    """A fresh database: no SQLite file yet, or an empty PostgreSQL database."""
    with database(kind, tmp_path / "target") as url:
        yield url


def use(monkeypatch, url: str, var_dir: Path) -> None:
    monkeypatch.setenv("CSA_VAR_DIR", str(var_dir))
    monkeypatch.setenv("CSA_BRIDGE_DATABASE_URL", url)


def refused(argv: list[str]) -> str:
    """Run the command expecting it to fail; its message."""
    with pytest.raises(SystemExit) as failure:
        main(argv)
    assert failure.value.code not in (0, None)
    return str(failure.value.code)


def rows(url: str, name: str) -> list[tuple]:
    """Every row of a table, ordered by its first column."""
    return snapshot(url, [name])[name]


def snapshot(url: str, tables: list[str] | None = None) -> dict[str, list[tuple]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return {
                name: [
                    tuple(row)
                    for row in connection.execute(text(f"SELECT * FROM {name} ORDER BY 1"))
                ]
                for name in tables or [*KEY_TABLES, "alembic_version"]
            }
    finally:
        engine.dispose()


def add_customer(url: str, name: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(Customer.__table__.insert().values(name=name, tags=[]))
    engine.dispose()


def add_conversation(url: str, channel: str, sender: str) -> None:
    """A conversation row as any schema revision stores it (plain SQL: no newer columns)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversations (sender_id, channel, status, started_at, last_event_at,"
                " customer_messages, scored_messages, sentiment_recent) VALUES (:sender, :channel,"
                " 'bot', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, 0, '[]')"
            ),
            {"sender": sender, "channel": channel},
        )
    engine.dispose()


def wait_until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Writer(threading.Thread):
    """Commits customer ``writer-n`` with its order ``W-n`` per transaction until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = make_engine(url)
        self.committed = 0
        self.error: BaseException | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        sessions = session_factory(self.engine)
        try:
            while not self.stopping.is_set():
                n = self.committed + 1
                with sessions() as session, session.begin():
                    customer = Customer(name=f"writer-{n}", tags=[])
                    session.add(customer)
                    session.flush()
                    session.add(
                        Order(
                            number=f"W-{n}",
                            customer_id=customer.id,
                            status="paid",
                            amount=Decimal("1.00"),
                            items=[],
                        )
                    )
                self.committed = n
        except BaseException as err:  # reported by the test
            self.error = err
        finally:
            self.engine.dispose()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
        assert self.error is None, self.error


def writer_number(text_value: str, prefix: str) -> int | None:
    return int(text_value[len(prefix) :]) if text_value.startswith(prefix) else None


def test_backup_while_writing_restores_a_consistent_snapshot(
    kind, source, target, tmp_path, monkeypatch, capsys
):
    var_dir = tmp_path / "var"
    use(monkeypatch, source, var_dir)
    writer = Writer(source)
    writer.start()
    try:
        wait_until(lambda: writer.committed >= 20)
        before = writer.committed
        assert main(["backup"]) == 0
        after = writer.committed
        wait_until(lambda: writer.committed >= after + 5)  # still writing afterwards
    finally:
        writer.stop()
    out = capsys.readouterr().out
    assert PASSWORD not in out
    file = Path(re.search(r"file: (.+)", out).group(1))
    assert file.parent == var_dir / "backups"
    assert re.fullmatch(r"crm-\d{8}T\d{6}Z\.(sqlite3|pgdump)", file.name)
    assert f"size: {file.stat().st_size:,} bytes" in out
    assert f"schema revision: {backups.head_revision()} (the newest)" in out
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE((var_dir / "backups").stat().st_mode) == 0o700
    assert [p.name for p in file.parent.iterdir()] == [file.name]  # no partial files left

    use(monkeypatch, target, tmp_path / "var2")
    assert main(["restore", str(file)]) == 0  # a fresh database: no --force needed
    out = capsys.readouterr().out
    assert "Restored" in out and PASSWORD not in out

    # A snapshot: the writer's transactions 1..k, each whole (the customer and its order).
    restored = snapshot(target)
    customers = [writer_number(row[1] or "", "writer-") for row in restored["customers"]]
    written = [n for n in customers if n is not None]
    k = len(written)
    assert before <= k <= after
    assert written == list(range(1, k + 1))
    orders = [writer_number(row[1], "W-") for row in restored["orders"]]
    assert [n for n in orders if n is not None] == written
    # Everything else exactly as in the source (the rows the writer added later excepted).
    original = snapshot(source)
    original["customers"] = [
        row for row in original["customers"] if (writer_number(row[1] or "", "writer-") or 0) <= k
    ]
    original["orders"] = [
        row for row in original["orders"] if (writer_number(row[1], "W-") or 0) <= k
    ]
    assert restored == original
    assert restored["alembic_version"] == [(backups.head_revision(),)]


def test_restore_refuses_a_crm_with_data_unless_forced(source, tmp_path, monkeypatch, capsys):
    use(monkeypatch, source, tmp_path / "var")
    file = tmp_path / "crm.backup"
    assert main(["backup", "--out", str(file)]) == 0
    at_backup = snapshot(source)
    add_customer(source, "after the backup")
    changed = snapshot(source)

    message = refused(["restore", str(file)])
    assert "already has data" in message and "--force" in message
    assert PASSWORD not in message
    assert snapshot(source) == changed

    assert main(["restore", str(file), "--force"]) == 0
    assert snapshot(source) == at_backup
    capsys.readouterr()


def test_garbage_and_truncated_files_leave_the_crm_untouched(
    kind, source, tmp_path, monkeypatch, capsys
):
    use(monkeypatch, source, tmp_path / "var")
    file = tmp_path / "crm.backup"
    assert main(["backup", "--out", str(file)]) == 0
    add_customer(source, "after the backup")
    before = snapshot(source)
    folder = sorted(os.listdir(tmp_path / "source")) if kind == "sqlite" else None
    data = file.read_bytes()
    other_kind = b"PGDMP" if kind == "sqlite" else b"SQLite format 3\x00"
    bad = {
        "garbage": (os.urandom(4096), "header is neither"),
        "truncated": (data[: len(data) // 2], "truncated" if kind == "sqlite" else "readable"),
        "empty": (b"", "header is neither"),
        "other-kind": (other_kind + data[len(other_kind) :], "it is a"),
    }
    for name, (content, expected) in bad.items():
        path = tmp_path / name
        path.write_bytes(content)
        message = refused(["restore", str(path), "--force"])
        assert expected in message, (name, message)
        assert "nothing was changed" in message
        assert snapshot(source) == before, name
    if kind == "sqlite":
        assert sorted(os.listdir(tmp_path / "source")) == folder  # no temporary files left
        # Right length, damaged pages: found by integrity_check.
        damaged = bytearray(data)
        damaged[len(data) // 2 : len(data) // 2 + 8192] = os.urandom(8192)
        (tmp_path / "damaged").write_bytes(damaged)
        assert "damaged" in refused(["restore", str(tmp_path / "damaged"), "--force"])
        assert snapshot(source) == before
    assert "no backup file" in refused(["restore", str(tmp_path / "missing"), "--force"])
    capsys.readouterr()


def test_an_older_backup_is_migrated_and_a_newer_one_refused(
    kind, target, tmp_path, monkeypatch, capsys
):
    with database(kind, tmp_path / "old") as old:
        command.upgrade(alembic_config(old), "0004")
        add_customer(old, "from the old schema")
        add_conversation(old, "wechat", "o6_old_follower")  # keyed by the plain sender then
        use(monkeypatch, old, tmp_path / "var")
        older = tmp_path / "older.backup"
        assert main(["backup", "--out", str(older)]) == 0
        assert "schema revision: 0004 (this code's newest is" in capsys.readouterr().out
        engine = create_engine(old, poolclass=NullPool)
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        engine.dispose()
        newer = tmp_path / "newer.backup"
        assert main(["backup", "--out", str(newer)]) == 0
        capsys.readouterr()

    # The target is at the newest schema with data: its newer tables must not get in the way.
    upgrade(target)
    add_customer(target, "to be replaced")
    use(monkeypatch, target, tmp_path / "var")
    assert main(["restore", str(older), "--force"]) == 0
    assert "migrated from revision 0004" in capsys.readouterr().out
    assert rows(target, "alembic_version") == [(backups.head_revision(),)]
    assert [row[1] for row in rows(target, "customers")] == ["from the old schema"]
    # Migrated like a live CRM: the conversation has Rasa's channel-qualified key now.
    assert [row[1] for row in rows(target, "conversations")] == ["wechat:o6_old_follower"]
    engine = create_engine(target, poolclass=NullPool)
    with engine.connect() as connection:
        assert {"login_failures", "identity_verifications"} <= set(
            inspect(connection).get_table_names()
        )
    engine.dispose()

    before = snapshot(target)
    message = refused(["restore", str(newer), "--force"])
    assert "9999" in message and "newer version" in message and "Upgrade the code" in message
    assert snapshot(target) == before


def test_restore_refuses_while_the_database_is_in_use(kind, source, tmp_path, monkeypatch):
    use(monkeypatch, source, tmp_path / "var")
    file = tmp_path / "crm.backup"
    assert main(["backup", "--out", str(file)]) == 0
    if kind == "sqlite":
        path = make_url(source).database
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys, time\n"
                f"db = sqlite3.connect({path!r}); db.execute('SELECT 1 FROM customers')\n"
                "print('open', flush=True); time.sleep(60)",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "open"
            message = refused(["restore", str(file), "--force"])
            assert str(holder.pid) in message
        finally:
            holder.kill()
            holder.wait()
    else:
        engine = create_engine(source, poolclass=NullPool)
        with engine.connect() as connection:
            connection.execute(text("SET application_name = 'crm-bridge-test'"))
            message = refused(["restore", str(file), "--force"])
            assert "crm-bridge-test" in message
        engine.dispose()
    assert "Stop" in message and "bridge" in message
    assert PASSWORD not in message
    assert main(["restore", str(file), "--force"]) == 0  # once it is closed


def test_postgresql_restore_is_one_transaction(tmp_path, monkeypatch, capsys):
    """An archive that breaks off half-way (pg_restore fails) changes nothing."""
    with database("postgresql", tmp_path) as url:
        upgrade(url)
        engine = make_engine(url)
        with session_factory(engine)() as session, session.begin():
            demo_seed.seed_demo(session)
        engine.dispose()
        use(monkeypatch, url, tmp_path / "var")
        file = tmp_path / "crm.pgdump"
        assert main(["backup", "--out", str(file)]) == 0
        add_customer(url, "after the backup")
        before = snapshot(url)

        real = backups.pg_tool("pg_restore")
        script = subprocess.run(
            [real, "--clean", "--if-exists", "--no-owner", "--file=-", str(file)],
            capture_output=True,
            check=True,
        ).stdout
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        fake = bin_dir / "pg_restore"
        fake.write_text(
            "#!/bin/sh\n"
            'case " $* " in\n'
            f'  *" --clean "*) "{real}" "$@" | head -c {len(script) // 2}; exit 1;;\n'
            f'  *) exec "{real}" "$@";;\n'
            "esac\n"
        )
        fake.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        message = refused(["restore", str(file), "--force"])
        assert "could not be read" in message and "nothing was changed" in message
        assert snapshot(url) == before
    capsys.readouterr()


def test_backup_errors_name_the_database_without_its_password(kind, tmp_path, monkeypatch, capsys):
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'missing' / 'crm.db'}"
    else:
        url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/csa_no_such_database"
    use(monkeypatch, url, tmp_path / "var")
    message = refused(["backup"])
    assert message.startswith("backup failed:")
    assert PASSWORD not in message
    assert not (tmp_path / "missing").exists()
    backups_dir = tmp_path / "var" / "backups"
    assert not backups_dir.exists() or not list(backups_dir.iterdir())
    assert "does not exist" in message or "no CRM database" in message
    capsys.readouterr()


def test_sqlite_restore_replaces_a_damaged_database(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade(url)
    add_customer(url, "in the backup")
    use(monkeypatch, url, tmp_path)
    file = tmp_path / "crm.backup"
    assert main(["backup", "--out", str(file)]) == 0
    expected = snapshot(url)
    (tmp_path / "crm.db").write_bytes(os.urandom(8192))
    (tmp_path / "crm.db-wal").write_bytes(os.urandom(8192))  # a stale WAL must not be replayed

    message = refused(["restore", str(file)])
    assert "cannot read" in message and "--force" in message
    assert main(["restore", str(file), "--force"]) == 0
    assert not (tmp_path / "crm.db-wal").exists()
    assert snapshot(url) == expected
    capsys.readouterr()
