"""Rasa tracker events shaped as Rasa 3.6's event brokers publish them."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

_clock = itertools.count(1_764_000_000)


def ts() -> float:
    """A strictly increasing timestamp."""
    return float(next(_clock))


def user(
    sender: str, text: str, intent: str = "greet", language: str | None = None, **extra: Any
) -> dict:
    entities = (
        [
            {
                "entity": "language",
                "value": language,
                "start": 0,
                "end": len(text),
                "extractor": "LanguageDetector",
            }
        ]
        if language
        else []
    )
    return {
        "sender_id": sender,
        "event": "user",
        "timestamp": extra.pop("timestamp", ts()),
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.97},
            "entities": entities,
            "text": text,
        },
        "input_channel": extra.pop("input_channel", "rest"),
        "message_id": uuid.uuid4().hex,
        "metadata": {},
        **extra,
    }


def bot(sender: str, text: str, **metadata: Any) -> dict:
    return {
        "sender_id": sender,
        "event": "bot",
        "timestamp": ts(),
        "text": text,
        "data": {},
        "metadata": metadata,
    }


def simple(sender: str, event: str, **fields: Any) -> dict:
    return {"sender_id": sender, "event": event, "timestamp": ts(), **fields}
