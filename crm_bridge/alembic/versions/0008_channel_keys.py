"""Conversation keys qualified by channel: ``sender_id`` becomes ``<channel>:<sender>``.

Rasa now keys every conversation by channel and sender (``bot/channels/keys.py``), so a REST
client can no longer name a WeChat follower's or a widget visitor's conversation. The CRM's
conversations, escalations and feedback rows keep Rasa's key: existing rows get the prefix of
their channel (rows of unknown channel, which no channel can reach any more, stay as they
are). Chat accounts (``customer_identities``) and verifications keep the plain platform id.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("conversations", "escalations", "feedback")


def upgrade() -> None:
    for table in TABLES:
        op.execute(
            f"UPDATE {table} SET sender_id = channel || ':' || sender_id "
            "WHERE channel IS NOT NULL AND sender_id IS NOT NULL "
            "AND substr(sender_id, 1, length(channel) + 1) <> channel || ':'"
        )
    # Rows without a channel of their own take their conversation's key.
    for table in ("escalations", "feedback"):
        op.execute(
            f"UPDATE {table} SET sender_id = (SELECT c.sender_id FROM conversations c "
            f"WHERE c.id = {table}.conversation_id) "
            f"WHERE channel IS NULL AND conversation_id IS NOT NULL AND EXISTS ("
            f"SELECT 1 FROM conversations c WHERE c.id = {table}.conversation_id "
            "AND c.channel IS NOT NULL)"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(
            f"UPDATE {table} SET sender_id = substr(sender_id, length(channel) + 2) "
            "WHERE channel IS NOT NULL "
            "AND substr(sender_id, 1, length(channel) + 1) = channel || ':'"
        )
    position = "strpos" if op.get_bind().dialect.name == "postgresql" else "instr"
    for table in ("escalations", "feedback"):
        op.execute(
            f"UPDATE {table} SET sender_id = substr(sender_id, {position}(sender_id, ':') + 1) "
            f"WHERE channel IS NULL AND conversation_id IS NOT NULL "
            f"AND {position}(sender_id, ':') > 0"
        )
