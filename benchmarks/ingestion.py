"""Ingestion throughput: Rasa broker rows -> CRM rows, on SQLite and PostgreSQL.

Writes N events shaped like Rasa 3.6's SQL event broker rows (bilingual conversations:
session start, user turns with parse data, bot replies, slots, actions) into a SQLite
``events`` table, then lets the bridge's SqlBrokerTail ingest them into a fresh CRM database
and prints events/s. Usage:

    var/venvs/services/bin/python benchmarks/ingestion.py [--events 20000] [--batch 500]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crm_bridge.core.db import make_engine, session_factory  # noqa: E402
from crm_bridge.migrations import upgrade  # noqa: E402
from crm_bridge.services.event_sources import SqlBrokerTail  # noqa: E402
from crm_bridge.services.ingest import EventIngestor  # noqa: E402
from tests.utils.databases import postgres_database  # noqa: E402

# {n} makes every conversation's texts distinct, so the sentiment scorer sees real variety.
TEXTS = {
    "zh": [
        "你好，我是{n}号会员",
        "我的订单A{n}到哪了",
        "快递太慢了，等了{n}天，我很生气",
        "谢谢",
        "再见",
    ],
    "en": [
        "hello, member {n} here",
        "where is my order A{n}",
        "{n} days and still nothing, I'm upset",
        "thanks",
        "bye",
    ],
}


def conversation_events(sender: str, language: str, start: float) -> list[dict]:
    """The events of one five-turn conversation, as Rasa's broker publishes them."""
    t = start
    events: list[dict] = []

    def add(**fields) -> None:
        nonlocal t
        t += 1.5
        events.append({"sender_id": sender, "timestamp": t, **fields})

    add(event="action", name="action_session_start")
    add(event="session_started")
    add(event="action", name="action_listen")
    number = sender.rsplit("-", 1)[-1]
    for template in TEXTS[language]:
        text = template.format(n=number)
        add(
            event="user",
            text=text,
            parse_data={
                "intent": {"name": "greet", "confidence": 0.9},
                "entities": [{"entity": "language", "value": language}],
            },
            input_channel="rest",
            message_id=f"{sender}-{t}",
            metadata={},
        )
        add(event="slot", name="language", value=language)
        add(event="action", name="utter_greet")
        add(event="bot", text="reply", data={}, metadata={"utter_action": "utter_greet"})
        add(event="action", name="action_listen")
    return events


def write_source(path: Path, count: int) -> int:
    """Fill a table shaped like Rasa's SQL broker table with at least ``count`` events."""
    random.seed(7)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)"
        )
        written, n, start = 0, 0, 1_764_000_000.0
        while written < count:
            language = "zh" if n % 2 else "en"
            rows = conversation_events(f"bench-{n}", language, start + n)
            db.executemany(
                "INSERT INTO events (sender_id, data) VALUES (?, ?)",
                [(e["sender_id"], json.dumps(e, ensure_ascii=False)) for e in rows],
            )
            written += len(rows)
            n += 1
    return written


def run(crm_url: str, source: Path, batch: int, scorer: object) -> tuple[int, float]:
    """Ingest the whole source into a fresh CRM database; return (events, seconds)."""
    upgrade(crm_url)
    engine = make_engine(crm_url)
    tail = SqlBrokerTail(
        f"sqlite:///{source}",
        session_factory(engine),
        EventIngestor(scorer=scorer, idle_timeout=timedelta(minutes=30)),
        batch_size=batch,
    )
    started = time.perf_counter()
    total = 0
    while read := tail.poll_once():
        total += read
    elapsed = time.perf_counter() - started
    engine.dispose()
    return total, elapsed


def load_scorer():
    """The bridge's sentiment model, if it is trained; else ingestion without scoring."""
    try:
        from crm_bridge.sentiment import SentimentScorer, default_model_dir  # type: ignore
    except ImportError:
        return None, "none (sentiment package not available)"
    path = default_model_dir()
    try:
        return SentimentScorer.load(path), f"trained model in {path}"
    except FileNotFoundError:
        return None, f"none (no model in {path}; train it with crm-bridge sentiment-train)"


def main(argv: list[str] | None = None) -> int:
    """Print the throughput table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sentiment", action="store_true", help="ingest without scoring")
    args = parser.parse_args(argv)
    scorer, scorer_name = (None, "off") if args.no_sentiment else load_scorer()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "events.db"
        written = write_source(source, args.events)
        print(f"source: {written} Rasa broker rows; batch {args.batch}; sentiment: {scorer_name}")
        print(f"{'CRM database':<12} {'events':>8} {'seconds':>8} {'events/s':>9}")
        total, elapsed = run(f"sqlite:///{tmp}/crm.db", source, args.batch, scorer)
        print(f"{'sqlite':<12} {total:>8} {elapsed:>8.2f} {total / elapsed:>9.0f}")
        if not args.no_postgres:
            with postgres_database() as url:
                total, elapsed = run(url, source, args.batch, scorer)
            print(f"{'postgresql':<12} {total:>8} {elapsed:>8.2f} {total / elapsed:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
