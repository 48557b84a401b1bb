"""Give conversations Rasa stored before channel-qualified keys their channel's prefix.

Rasa now keys every conversation ``<channel>:<sender>`` (``bot/channels/keys.py``). A
conversation stored under the plain sender id would no longer be found: its customer would
start over, and its unprocessed events would reach the CRM under the old key. So before Rasa
starts, the launchers rename each old key in Rasa's tracker store and in the SQL broker's
outbox to ``<input channel of its latest message>:<sender>`` (the CRM's own rows are renamed by
its Alembic migration 0008). Conversations without any customer message, whose channel is
unknown, keep their key: no channel can reach them any more, which is the point.

A table ``csa_migrations`` in the same database records that this ran, so later starts cost
one query.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import create_engine, inspect, text

MIGRATION = "channel-keys"


def _channel_of(rows: Any) -> str | None:
    for (data,) in rows:
        try:
            event = json.loads(data)
        except (TypeError, ValueError):
            continue
        if isinstance(event, dict) and event.get("event") == "user":
            channel = event.get("input_channel")
            return str(channel) if channel else None
    return None


def qualify_stored_keys(url: str) -> int:
    """Rename the old keys of the ``events`` table at ``url``; how many conversations moved."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            if not inspect(connection).has_table("events"):
                return 0
            connection.execute(
                text("CREATE TABLE IF NOT EXISTS csa_migrations (name VARCHAR(64) PRIMARY KEY)")
            )
            done = connection.execute(
                text("SELECT 1 FROM csa_migrations WHERE name = :name"), {"name": MIGRATION}
            ).first()
            if done:
                return 0
            senders = connection.execute(text("SELECT DISTINCT sender_id FROM events")).scalars()
            moved = 0
            for sender in list(senders):
                rows = connection.execute(
                    text("SELECT data FROM events WHERE sender_id = :s ORDER BY id DESC"),
                    {"s": sender},
                )
                channel = _channel_of(rows)
                # The rule of the CRM's migration 0008: a key that already starts with its
                # channel's prefix is taken as qualified.
                if channel is None or sender.startswith(f"{channel}:"):
                    continue
                connection.execute(
                    text("UPDATE events SET sender_id = :new WHERE sender_id = :old"),
                    {"new": f"{channel}:{sender}", "old": sender},
                )
                moved += 1
            connection.execute(
                text("INSERT INTO csa_migrations (name) VALUES (:name)"), {"name": MIGRATION}
            )
            return moved
    finally:
        engine.dispose()
