"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from crm_bridge.core.db import make_engine
from crm_bridge.migrations import alembic_config
from crm_bridge.models import Base


def test_head_matches_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
        assert context.get_current_revision() == head
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_downgrade_to_base_and_back(database_url):
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    engine = make_engine(database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert "messages" in inspect(engine).get_table_names()
    engine.dispose()


def test_sqlite_database_uses_wal(settings):
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_0003_fills_the_sender_id_of_existing_escalations(database_url):
    config = alembic_config(database_url)
    command.downgrade(config, "0002")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        for context in ('{"sender_id": "s-42", "x": 1}', "{}", '{"sender_id": null}'):
            connection.execute(
                text(
                    "INSERT INTO escalations (reason, priority, status, created_at, context) "
                    "VALUES ('complaint', 'normal', 'open', CURRENT_TIMESTAMP, :context)"
                ),
                {"context": context},
            )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT sender_id FROM escalations ORDER BY id")).all()
    assert [r[0] for r in rows] == ["s-42", None, None]
    assert "feedback" in inspect(engine).get_table_names()
    engine.dispose()
