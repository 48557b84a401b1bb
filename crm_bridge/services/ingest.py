"""Apply Rasa tracker events to the CRM: conversations, messages and their sentiment.

The broker readers (``services/event_sources.py``) hand batches of events to
:class:`EventIngestor` inside one database transaction that also advances their position, so
a batch is either stored with its position or not at all. Every event is applied once: its key
is recorded in ``ingested_events`` and a redelivered event is skipped. Feedback and
escalations the bot sent for a sender before its conversation was ingested are linked when
the conversation is opened (``services/linking.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_bridge.core.conversation_keys import PROOF_METADATA_KEY, sender_on
from crm_bridge.core.pii import mask_pii
from crm_bridge.models import (
    Conversation,
    ConversationStatus,
    IngestedEvent,
    Message,
    MessageRole,
)
from crm_bridge.services.customers import find_by_identity
from crm_bridge.services.linking import attach_orphans

logger = logging.getLogger(__name__)

TREND_WINDOW = 5


class Sentiment(Protocol):
    """A sentiment result: score in [-1, 1] and a label."""

    score: float
    label: str


class SentimentScorer(Protocol):
    """Anything that scores customer messages (in batches: the encoder is faster so)."""

    def score_many(self, texts: Sequence[str]) -> Sequence[Sentiment]:
        """Score several texts, in order."""
        ...


def _scorable(text: str | None) -> bool:
    # Button payloads ("/affirm") carry no sentiment.
    return bool(text and text.strip() and not text.startswith("/"))


@dataclass(frozen=True)
class RasaEvent:
    """One event as Rasa's event brokers publish it."""

    sender_id: str
    data: dict[str, Any]

    @property
    def type(self) -> str:
        """The Rasa event name (``user``, ``bot``, ``session_started``, …)."""
        return str(self.data.get("event", ""))

    @property
    def at(self) -> datetime:
        """When the event happened."""
        return datetime.fromtimestamp(float(self.data.get("timestamp") or 0), tz=UTC)

    @property
    def key(self) -> str:
        """A stable identity, the same whichever broker delivered the event."""
        parts = [
            self.sender_id,
            self.type,
            repr(self.data.get("timestamp")),
            str(self.data.get("message_id") or ""),
            str(self.data.get("text") or self.data.get("name") or ""),
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]

    @classmethod
    def from_json(cls, raw: str | bytes, sender_id: str | None = None) -> RasaEvent:
        """Parse a broker payload; raises ``ValueError`` if it is not a Rasa event."""
        return cls.from_data(json.loads(raw), sender_id)

    @classmethod
    def from_data(cls, data: Any, sender_id: str | None = None) -> RasaEvent:
        """A parsed broker payload as an event; raises ``ValueError`` if it is not one."""
        if not isinstance(data, dict) or "event" not in data:
            raise ValueError("not a Rasa event")
        sender = sender_id or data.get("sender_id")
        if not sender:
            raise ValueError("event without sender_id")
        return cls(sender_id=str(sender), data=data)

    @classmethod
    def many_from_json(cls, raw: str | bytes) -> tuple[list[RasaEvent], int]:
        """The events of a broker message: one event, or a JSON array of them (a turn).

        Returns the events and how many items were not Rasa events (skipped). Raises
        ``ValueError`` when the message is not JSON at all.
        """
        data = json.loads(raw)
        events, skipped = [], 0
        for item in data if isinstance(data, list) else [data]:
            try:
                events.append(cls.from_data(item))
            except ValueError:
                skipped += 1
        return events, skipped


def _short_text(value: Any, limit: int = 100) -> str | None:
    """A string metadata value cut to its column's size, or None for anything else."""
    return value[:limit] if isinstance(value, str) and value else None


def linear_trend(scores: list[float]) -> float | None:
    """Slope of the least-squares line through the scores (per message); None if < 2."""
    n = len(scores)
    if n < 2:
        return None
    mean_x = (n - 1) / 2
    mean_y = sum(scores) / n
    num = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(scores))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


def _stored_metadata(data: dict[str, Any]) -> dict[str, Any]:
    """A customer message's metadata as the CRM keeps it: without the identity proof."""
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    return {k: v for k, v in metadata.items() if k != PROOF_METADATA_KEY}


class EventIngestor:
    """Turns Rasa events into CRM rows, within the caller's transaction."""

    def __init__(
        self,
        scorer: SentimentScorer | None,
        idle_timeout: timedelta,
        mask_transcripts: bool = False,
    ) -> None:
        self.scorer = scorer
        self.idle_timeout = idle_timeout
        self.mask_transcripts = mask_transcripts
        self._scores: dict[str, Sentiment] = {}
        self._opened: list[Conversation] = []
        self._new_messages: list[tuple[Message, Conversation]] = []
        self._notices: list[dict[str, Any]] = []
        self.listener: Callable[[list[dict[str, Any]]], None] | None = None
        """Called with the new messages after their transaction committed (consoles,
        escalation triggers); set by the app."""
        self.guard: Callable[[Session], None] | None = None
        """Called in each batch's transaction before anything is applied; raises to refuse
        the batch (several instances: this one no longer leads ingestion)."""

    def _stored_text(self, text: str | None) -> str | None:
        return mask_pii(text) if text and self.mask_transcripts else text

    def apply(self, session: Session, events: Iterable[RasaEvent]) -> int:
        """Apply events in order; return how many were new (not seen before)."""
        if self.guard is not None:
            self.guard(session)
        batch = list(events)
        keys = [event.key for event in batch]
        seen = set(
            session.scalars(select(IngestedEvent.key).where(IngestedEvent.key.in_(set(keys))))
        )
        new_user_texts = {
            e.data.get("text")
            for e, k in zip(batch, keys, strict=True)
            if k not in seen and e.type == "user" and _scorable(e.data.get("text"))
        }
        self._scores = self._score(sorted(new_user_texts))
        applied = 0
        cache: dict[str, Conversation | None] = {}
        self._opened = []
        # No flush per event: conversations opened in this batch are found through ``cache``.
        with session.no_autoflush:
            for event, key in zip(batch, keys, strict=True):
                if key in seen:
                    continue
                seen.add(key)
                session.add(IngestedEvent(key=key, at=event.at))
                self._apply_one(session, event, cache)
                applied += 1
        if self._opened:
            # Conversations need their ids, and their customer is known by now.
            session.flush()
            attach_orphans(session, self._opened)
            self._opened = []
        if self._new_messages and self.listener is not None:
            session.flush()
            self._notices.extend(self._notice(m, c) for m, c in self._new_messages)
        self._new_messages = []
        return applied

    @staticmethod
    def _notice(message: Message, conversation: Conversation) -> dict[str, Any]:
        from crm_bridge.services.handoff import transcript_item

        return {
            "sender_id": conversation.sender_id,
            "channel": conversation.channel,
            "status": conversation.status.value,
            "at": message.at.timestamp(),
            "recent": list(conversation.sentiment_recent or []),
            "message": transcript_item(message).model_dump(mode="json"),
        }

    def committed(self) -> None:
        """The caller committed the last batches: hand their new messages to the listener."""
        notices, self._notices = self._notices, []
        if notices and self.listener is not None:
            try:
                self.listener(notices)
            except Exception:  # noqa: BLE001 - the CRM rows are stored; only live views miss it
                logger.exception("live update of %d messages failed", len(notices))

    def rolled_back(self) -> None:
        """The caller's transaction failed: forget what it would have announced."""
        self._notices = []
        self._new_messages = []

    def _score(self, texts: list[str]) -> dict[str, Sentiment]:
        if self.scorer is None or not texts:
            return {}
        return dict(zip(texts, self.scorer.score_many(texts), strict=True))

    # -- conversation bookkeeping -------------------------------------------------------

    def _current(
        self, session: Session, sender_id: str, cache: dict[str, Conversation | None]
    ) -> Conversation | None:
        if sender_id not in cache:
            cache[sender_id] = session.scalars(
                select(Conversation)
                .where(Conversation.sender_id == sender_id, Conversation.ended_at.is_(None))
                .order_by(Conversation.id.desc())
                .limit(1)
            ).first()
        return cache[sender_id]

    def _close(self, conversation: Conversation | None, at: datetime, idle: bool = False) -> None:
        if conversation is None or conversation.ended_at is not None:
            return
        conversation.ended_at = at
        if conversation.status == ConversationStatus.BOT:
            # Ended without a human: resolved by the bot if the customer said anything
            # and did not simply walk away waiting; an idle gap after a pause is abandoned.
            conversation.status = (
                ConversationStatus.RESOLVED_BY_BOT
                if conversation.customer_messages
                else ConversationStatus.ABANDONED
            )
        elif conversation.status == ConversationStatus.WITH_AGENT:
            conversation.status = ConversationStatus.RESOLVED_BY_AGENT
        elif conversation.status == ConversationStatus.WAITING_FOR_AGENT:
            conversation.status = ConversationStatus.ABANDONED
        if idle:
            logger.debug("conversation %s closed after idle gap", conversation.id)

    def _open(
        self,
        session: Session,
        event: RasaEvent,
        cache: dict[str, Conversation | None],
    ) -> Conversation:
        conversation = self._current(session, event.sender_id, cache)
        at = event.at
        if conversation is not None and at - conversation.last_event_at > self.idle_timeout:
            self._close(conversation, conversation.last_event_at, idle=True)
            conversation = None
        if conversation is None:
            conversation = Conversation(
                sender_id=event.sender_id,
                started_at=at,
                last_event_at=at,
                status=ConversationStatus.BOT,
                customer_messages=0,
                scored_messages=0,
                sentiment_recent=[],
            )
            session.add(conversation)
            cache[event.sender_id] = conversation
            self._opened.append(conversation)
        conversation.last_event_at = max(conversation.last_event_at, at)
        return conversation

    # -- events --------------------------------------------------------------------------

    def _apply_one(
        self, session: Session, event: RasaEvent, cache: dict[str, Conversation | None]
    ) -> None:
        kind = event.type
        if kind in ("session_started", "restart"):
            self._close(self._current(session, event.sender_id, cache), event.at)
            cache[event.sender_id] = None
        elif kind == "user":
            self._user(session, event, cache)
        elif kind == "bot":
            self._bot(session, event, cache)
        elif kind == "pause":
            conversation = self._open(session, event, cache)
            if conversation.status == ConversationStatus.BOT:
                conversation.status = ConversationStatus.WAITING_FOR_AGENT
        elif kind == "resume":
            conversation = self._open(session, event, cache)
            conversation.status = ConversationStatus.BOT
        elif kind == "slot" and event.data.get("name") == "language":
            if event.data.get("value"):
                self._open(session, event, cache).language = str(event.data["value"])

    def _user(
        self, session: Session, event: RasaEvent, cache: dict[str, Conversation | None]
    ) -> None:
        data = event.data
        conversation = self._open(session, event, cache)
        conversation.channel = conversation.channel or data.get("input_channel")
        if conversation.customer_id is None and conversation.customer_messages == 0:
            # A channel identity known to the CRM (e.g. a Telegram id) links the customer.
            channel = conversation.channel or ""
            customer = find_by_identity(session, channel, sender_on(event.sender_id, channel))
            conversation.customer_id = customer.id if customer else None
        parse = data.get("parse_data") or {}
        intent = parse.get("intent") or {}
        entities = parse.get("entities") or []
        for entity in entities:
            if entity.get("entity") == "language" and entity.get("value"):
                conversation.language = str(entity["value"])
        text = data.get("text") or ""
        sentiment = self._scores.get(text)
        message = Message(
            conversation=conversation,
            event_key=event.key,
            role=MessageRole.CUSTOMER,
            text=self._stored_text(text),
            at=event.at,
            intent=intent.get("name"),
            intent_confidence=intent.get("confidence"),
            entities=entities,
            sentiment_score=sentiment.score if sentiment else None,
            sentiment_label=sentiment.label if sentiment else None,
            extra={"message_id": data.get("message_id"), "metadata": _stored_metadata(data)},
        )
        conversation.customer_messages += 1
        if sentiment is not None:
            self._update_sentiment(conversation, sentiment.score)
        self._add(session, message, conversation)

    def _add(self, session: Session, message: Message, conversation: Conversation) -> None:
        session.add(message)
        self._new_messages.append((message, conversation))

    @staticmethod
    def _update_sentiment(conversation: Conversation, score: float) -> None:
        """Fold one more score into the conversation's mean, minimum and trend."""
        n = conversation.scored_messages or 0
        mean = conversation.sentiment_mean or 0.0
        conversation.sentiment_mean = (mean * n + score) / (n + 1)
        low = conversation.sentiment_min
        conversation.sentiment_min = score if low is None else min(low, score)
        recent = [*(conversation.sentiment_recent or []), score][-TREND_WINDOW:]
        conversation.sentiment_recent = recent
        conversation.sentiment_trend = linear_trend(recent)
        conversation.scored_messages = n + 1

    def _bot(
        self, session: Session, event: RasaEvent, cache: dict[str, Conversation | None]
    ) -> None:
        data = event.data
        metadata = data.get("metadata") or {}
        conversation = self._open(session, event, cache)
        role = MessageRole.AGENT if metadata.get("agent") else MessageRole.BOT
        if metadata.get("handoff"):
            role = MessageRole.SYSTEM  # "an agent joined" and other notices of the bridge
        if role == MessageRole.AGENT:
            conversation.status = ConversationStatus.WITH_AGENT
        # The KB action sends the answer's entry id and confidence as bot-message metadata.
        kb_score = metadata.get("kb_confidence")
        self._add(
            session,
            Message(
                conversation=conversation,
                event_key=event.key,
                role=role,
                text=self._stored_text(data.get("text")),
                at=event.at,
                kb_entry_id=_short_text(metadata.get("kb_entry_id")),
                kb_score=float(kb_score) if isinstance(kb_score, int | float) else None,
                extra=metadata,
            ),
            conversation,
        )
