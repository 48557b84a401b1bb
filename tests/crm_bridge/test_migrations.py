"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from crm_bridge.core.db import make_engine, session_factory
from crm_bridge.migrations import alembic_config
from crm_bridge.models import (
    Base,
    Conversation,
    Escalation,
    Feedback,
    FeedbackKind,
    IdentityVerification,
    Message,
    MessageRole,
    utcnow,
)
from crm_bridge.services.linking import latest_conversation
from tests.utils.factories import make_customer


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


OPEN_ID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
OLD_WIDGET = "3f2a9c1b-07de-4c1a-9e51-a1b2c3d4e5f6"  # a client-made id of the old widget


def _keys(engine, table: str) -> dict[int, str | None]:
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT id, sender_id FROM {table} ORDER BY id"))
        return dict(rows.all())


def test_0008_qualifies_conversation_keys_and_downgrades(database_url):
    config = alembic_config(database_url)
    command.downgrade(config, "0007")
    engine = make_engine(database_url)
    with session_factory(engine)() as session, session.begin():
        customer = make_customer(session, identities=[("wechat", OPEN_ID, True)])
        chats = {
            "wechat": Conversation(sender_id=OPEN_ID, channel="wechat", customer_id=customer.id),
            "widget": Conversation(sender_id=OLD_WIDGET, channel="socketio"),
            "rest": Conversation(sender_id="alice", channel="rest"),
            # No customer message yet: its channel is unknown, no channel reaches it any more.
            "unknown": Conversation(sender_id="bot-only", channel=None),
        }
        session.add_all(chats.values())
        session.flush()
        session.add(
            Message(
                conversation_id=chats["wechat"].id,
                event_key="k-1",
                role=MessageRole.CUSTOMER,
                text="我的积分",
                at=utcnow(),
                extra={"metadata": {}},
            )
        )
        tickets = [
            # a live handoff knows its channel
            Escalation(
                sender_id=OLD_WIDGET,
                channel="socketio",
                conversation_id=chats["widget"].id,
                reason="asked_for_human",
            ),
            # a ticket the bot opened: no channel of its own, its conversation's key
            Escalation(sender_id="alice", conversation_id=chats["rest"].id, reason="complaint"),
            # sent before its conversation was ingested: nothing to go by, left as it is
            Escalation(sender_id="waiting", reason="complaint"),
            # opened by an agent for a customer, no conversation
            Escalation(customer_id=customer.id, reason="callback"),
        ]
        ratings = [
            Feedback(
                sender_id=OPEN_ID,
                channel="wechat",
                conversation_id=chats["wechat"].id,
                kind=FeedbackKind.CSAT,
                rating=5,
            ),
            Feedback(
                sender_id="alice",
                conversation_id=chats["rest"].id,
                kind=FeedbackKind.KB_ANSWER,
                rating=1,
                kb_entry_id="returns",
            ),
            Feedback(
                sender_id="bot-only",
                conversation_id=chats["unknown"].id,
                kind=FeedbackKind.CSAT,
                rating=3,
            ),
        ]
        session.add_all([*tickets, *ratings])
        session.add(
            IdentityVerification(
                channel="wechat",
                sender_id=OPEN_ID,
                contact_kind="phone",
                contact_key="k" * 64,
                code_hash="h" * 64,
                expires_at=utcnow(),
            )
        )
    before = {table: _keys(engine, table) for table in ("conversations", "escalations", "feedback")}

    command.upgrade(config, "0008")
    after = {table: _keys(engine, table) for table in ("conversations", "escalations", "feedback")}
    assert list(after["conversations"].values()) == [
        f"wechat:{OPEN_ID}",
        f"socketio:{OLD_WIDGET}",
        "rest:alice",
        "bot-only",
    ]
    assert list(after["escalations"].values()) == [
        f"socketio:{OLD_WIDGET}",
        "rest:alice",
        "waiting",
        None,
    ]
    assert list(after["feedback"].values()) == [f"wechat:{OPEN_ID}", "rest:alice", "bot-only"]
    with engine.connect() as connection:
        # Chat accounts keep their plain platform id; messages are untouched.
        assert connection.execute(text("SELECT external_id FROM customer_identities")).all() == [
            (OPEN_ID,)
        ]
        assert connection.execute(text("SELECT sender_id FROM identity_verifications")).all() == [
            (OPEN_ID,)
        ]
        assert connection.execute(text("SELECT text FROM messages")).all() == [("我的积分",)]
    # The renamed WeChat conversation is found the way the bridge now looks for it.
    with session_factory(engine)() as session:
        found = latest_conversation(session, f"wechat:{OPEN_ID}")
        assert found is not None and found.customer_id is not None

    # Running it over rows it renamed already changes nothing (a second launcher, a restore).
    command.stamp(config, "0007")
    command.upgrade(config, "0008")
    assert {t: _keys(engine, t) for t in after} == after

    command.downgrade(config, "0007")
    assert {t: _keys(engine, t) for t in before} == before
    command.upgrade(config, "head")
    engine.dispose()
