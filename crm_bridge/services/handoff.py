"""Live handoffs: the bot hands a conversation over, agents take it, answer and close it.

The conversation is paused in Rasa by the bot's handoff action; while paused the bot stays
silent and every customer message still reaches the CRM through the event broker, and from
there the console (:meth:`HandoffDesk.on_ingested`). Agent replies go back through Rasa's HTTP
API (:mod:`crm_bridge.services.rasa_api`) so they reach the customer on their own channel.
An agent reply is stored at once, under the same event key the ingestor computes when the
broker delivers that event, so it is never stored or shown twice.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.core.config import Settings
from crm_bridge.core.locks import xact_lock
from crm_bridge.models import (
    Agent,
    Availability,
    Conversation,
    ConversationStatus,
    Customer,
    Escalation,
    EscalationStatus,
    IngestedEvent,
    Message,
    MessageRole,
    Order,
    utcnow,
)
from crm_bridge.schemas import (
    CustomerBrief,
    CustomerSummary,
    HandoffDetail,
    HandoffOpened,
    HandoffRequest,
    QueueItem,
    TranscriptItem,
)
from crm_bridge.services import handoff_queue as queue
from crm_bridge.services.audit import audit
from crm_bridge.services.console_hub import Audience, ConsoleHub
from crm_bridge.services.escalation_triggers import EscalationRules
from crm_bridge.services.handoff_notices import notice
from crm_bridge.services.ingest import RasaEvent, SentimentScorer, linear_trend
from crm_bridge.services.linking import latest_conversation
from crm_bridge.services.office_hours import OfficeHours
from crm_bridge.services.rasa_api import RasaApi, RasaUnavailable
from crm_bridge.services.summary import summarize

logger = logging.getLogger(__name__)

OPEN_TICKETS = (EscalationStatus.OPEN, EscalationStatus.ASSIGNED)
RECENT_TICKET = timedelta(minutes=30)


class HandoffConflict(RuntimeError):
    """The handoff is not in a state that allows this (message safe to show)."""


def _visible(escalation: Escalation) -> Audience:
    """Who may see the events of a handoff: supervisors, everyone while it waits, its agent."""
    return Audience(
        everyone=escalation.status == EscalationStatus.OPEN, agent_id=escalation.agent_id
    )


def transcript_item(message: Message) -> TranscriptItem:
    """A stored message as a console line."""
    extra = message.extra or {}
    agent = extra.get("agent") if isinstance(extra.get("agent"), dict) else {}
    return TranscriptItem(
        id=f"m-{message.id}",
        role=message.role,
        text=message.text,
        at=message.at,
        internal=bool(extra.get("internal")),
        agent_name=agent.get("name"),
        intent=message.intent,
        sentiment_score=message.sentiment_score,
        sentiment_label=message.sentiment_label,
        kb_entry_id=message.kb_entry_id,
    )


class HandoffDesk:
    """Opens, routes and closes live handoffs; tells Rasa and the consoles."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        hub: ConsoleHub,
        rasa: RasaApi,
        scorer: SentimentScorer | None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.hub = hub
        self.rasa = rasa
        self.scorer = scorer
        self.hours = OfficeHours.parse(
            settings.OFFICE_HOURS, settings.OFFICE_DAYS, settings.OFFICE_TIMEZONE
        )
        self.rules = EscalationRules(
            sentiment_below=settings.ESCALATE_SENTIMENT_BELOW,
            trend_turns=settings.ESCALATE_TREND_TURNS,
            trend_drop=settings.ESCALATE_TREND_DROP,
            keywords=tuple(settings.ESCALATE_KEYWORDS),
        )
        # Senders whose escalation was triggered and not yet opened by the bot.
        self._triggered: dict[str, float] = {}
        self._escalations = ThreadPoolExecutor(max_workers=4, thread_name_prefix="escalate")

    # -- views ----------------------------------------------------------------------------

    def conversation_of(self, session: Session, escalation: Escalation) -> Conversation | None:
        """The conversation of a handoff, linked on first sight if ingestion was behind."""
        if escalation.conversation_id is None and escalation.sender_id:
            conversation = latest_conversation(session, escalation.sender_id)
            if conversation is not None:
                escalation.conversation_id = conversation.id
                escalation.customer_id = escalation.customer_id or conversation.customer_id
        if escalation.conversation_id is None:
            return None
        return session.get(Conversation, escalation.conversation_id)

    def queue_item(self, session: Session, escalation: Escalation) -> QueueItem:
        """One line of the console's queue."""
        customer = session.get(Customer, escalation.customer_id) if escalation.customer_id else None
        agent = session.get(Agent, escalation.agent_id) if escalation.agent_id else None
        conversation = self.conversation_of(session, escalation)
        last = None
        sentiment = None
        if conversation is not None:
            last = session.scalars(
                select(Message)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.role == MessageRole.CUSTOMER,
                )
                .order_by(Message.at.desc(), Message.id.desc())
                .limit(1)
            ).first()
            sentiment = last.sentiment_score if last else None
        end = escalation.assigned_at or utcnow()
        if escalation.status not in OPEN_TICKETS:
            end = escalation.resolved_at or escalation.closed_at or end
        context = escalation.context or {}
        return QueueItem(
            id=escalation.id,
            sender_id=escalation.sender_id,
            conversation_id=escalation.conversation_id,
            customer=CustomerBrief(id=customer.id, name=customer.name, tier=customer.tier)
            if customer
            else None,
            language=escalation.language,
            channel=escalation.channel,
            reason=escalation.reason,
            priority=escalation.priority,
            status=escalation.status,
            agent_id=escalation.agent_id,
            agent_name=agent.name if agent else None,
            created_at=escalation.created_at,
            waiting_seconds=max(0.0, (end - escalation.created_at).total_seconds()),
            summary=str(context.get("summary") or ""),
            last_message=last.text if last else context.get("last_message"),
            sentiment=sentiment,
        )

    def queue_for(self, session: Session, agent_id: int | None, sees_all: bool) -> list[QueueItem]:
        """Waiting handoffs, then the caller's own (everybody's for supervisors)."""
        items = queue.waiting(session)
        assigned = [e for e in queue.active(session) if e.status == EscalationStatus.ASSIGNED]
        items += [e for e in assigned if sees_all or e.agent_id == agent_id]
        return [self.queue_item(session, e) for e in items]

    def may_see(self, escalation: Escalation, agent_id: int | None, sees_all: bool) -> bool:
        """Agents see waiting handoffs and their own; supervisors everything."""
        return (
            sees_all
            or escalation.agent_id == agent_id
            or (escalation.live and escalation.status == EscalationStatus.OPEN)
        )

    def transcript(self, session: Session, escalation: Escalation) -> list[TranscriptItem]:
        """Every stored line of the handoff's conversation, in order."""
        conversation = self.conversation_of(session, escalation)
        if conversation is None:
            return []
        messages = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.at, Message.id)
        ).all()
        return [transcript_item(m) for m in messages]

    def customer_summary(self, session: Session, customer_id: int | None) -> CustomerSummary | None:
        """Tier, value, open tickets and last orders of the customer."""
        customer = session.get(Customer, customer_id) if customer_id else None
        if customer is None:
            return None
        open_tickets = session.scalar(
            select(func.count())
            .select_from(Escalation)
            .where(Escalation.customer_id == customer.id, Escalation.status.in_(OPEN_TICKETS))
        )
        orders = session.scalars(
            select(Order)
            .where(Order.customer_id == customer.id)
            .order_by(Order.placed_at.desc())
            .limit(3)
        ).all()
        return CustomerSummary(
            id=customer.id,
            name=customer.name,
            tier=customer.tier,
            lifecycle_stage=customer.lifecycle_stage,
            points_balance=customer.points_balance,
            clv=customer.clv,
            open_tickets=open_tickets or 0,
            last_orders=[
                {
                    "number": o.number,
                    "status": o.status,
                    "amount": str(o.amount),
                    "currency": o.currency,
                    "placed_at": o.placed_at.isoformat(),
                }
                for o in orders
            ],
        )

    def detail(self, session: Session, escalation: Escalation) -> HandoffDetail:
        """The conversation view of the console."""
        context = {k: v for k, v in (escalation.context or {}).items() if k != "transcript"}
        transcript = self.transcript(session, escalation)
        said = [line.text or "" for line in transcript if line.role == MessageRole.CUSTOMER]
        sent = [
            turn.get("text") or ""
            for turn in (escalation.context or {}).get("transcript") or []
            if isinstance(turn, dict) and turn.get("role") == "customer"
        ]
        if len(said) < len(sent):  # the stored turns lag behind (ingestion under load)
            said = sent
        # What the customer wrote while waiting counts too.
        context["summary"] = summarize(said) or context.get("summary") or ""
        return HandoffDetail(
            handoff=self.queue_item(session, escalation),
            transcript=transcript,
            context=context,
            customer=self.customer_summary(session, escalation.customer_id),
        )

    # -- opening ----------------------------------------------------------------------------

    def _sentiments(self, texts: Sequence[str]) -> list[float]:
        scorable = [t for t in texts if t and not t.startswith("/")]
        if self.scorer is None or not scorable:
            return []
        return [round(float(s.score), 3) for s in self.scorer.score_many(scorable)]

    def build_context(
        self, body: HandoffRequest, customer: CustomerSummary | None
    ) -> dict[str, Any]:
        """The full context an agent needs, from the bot's view plus the CRM's."""
        customer_turns = [t for t in body.transcript if t.role == "customer"]
        texts = [t.text or "" for t in customer_turns]
        per_turn = self._sentiments(texts)
        return {
            "summary": summarize(texts),
            "reason": body.reason,
            "language": body.language,
            "channel": body.channel,
            "intents": [
                {"intent": t.intent, "confidence": t.confidence} for t in customer_turns if t.intent
            ],
            "entities": [e for t in customer_turns for e in t.entities][:50],
            "kb_attempts": [
                {"entry_id": t.kb_entry_id, "score": t.kb_score, "decision": t.kb_decision}
                for t in body.transcript
                if t.role == "bot" and (t.kb_entry_id or t.kb_decision)
            ],
            "sentiment": {"per_turn": per_turn, "trend": linear_trend(per_turn[-5:])},
            "customer": customer.model_dump(mode="json") if customer else None,
            "transcript": [t.model_dump(mode="json") for t in body.transcript],
            "last_message": texts[-1] if texts else None,
            "sender_id": body.sender_id,
        }

    def open(self, session: Session, body: HandoffRequest, actor: str) -> HandoffOpened:
        """Open a live handoff (or a ticket when nobody can take it); idempotent per sender."""
        self._triggered.pop(body.sender_id, None)
        # Two instances asked at once for one sender (a retried call) open one handoff.
        xact_lock(session, f"handoff-open:{body.sender_id}")
        existing = session.scalars(
            select(Escalation).where(
                Escalation.sender_id == body.sender_id,
                Escalation.live.is_(True),
                Escalation.status.in_(OPEN_TICKETS),
            )
        ).first()
        if existing is not None:
            return self._opened(session, existing)
        conversation = latest_conversation(session, body.sender_id)
        customer_id = body.customer_id or (conversation.customer_id if conversation else None)
        customer = self.customer_summary(session, customer_id)
        context = self.build_context(body, customer)
        priority = queue.handoff_priority(
            customer.tier.value if customer else None,
            context["sentiment"]["per_turn"][-2:],
            body.reason,
        )
        staffed = self.hours.is_open(utcnow())
        live = staffed and bool(queue.online_agents(session, body.language))
        escalation = Escalation(
            conversation_id=conversation.id if conversation else None,
            customer_id=customer_id,
            sender_id=body.sender_id,
            reason=body.reason,
            priority=priority,
            status=EscalationStatus.OPEN,
            notes=body.notes,
            context=context,
            live=live,
            language=body.language,
            channel=body.channel,
        )
        if not live:
            escalation.context = {**context, "why_ticket": "closed" if not staffed else "no_agents"}
        session.add(escalation)
        session.flush()
        if live and self.settings.HANDOFF_AUTO_ASSIGN:
            queue.auto_assign(session)
        audit(session, actor, "create", "escalation", escalation.id, reason=body.reason, live=live)
        session.commit()
        self.hub.queue_changed()
        logger.info(
            "handoff %s opened (reason=%s, priority=%s, live=%s)",
            escalation.id,
            body.reason,
            priority.value,
            live,
        )
        return self._opened(session, escalation)

    def _opened(self, session: Session, escalation: Escalation) -> HandoffOpened:
        agent = session.get(Agent, escalation.agent_id) if escalation.agent_id else None
        if not escalation.live:
            mode, why = "ticket", (escalation.context or {}).get("why_ticket", "no_agents")
        else:
            mode, why = ("assigned" if agent else "queued"), None
        return HandoffOpened(
            id=escalation.id,
            mode=mode,
            why_ticket=why,
            queue_position=queue.queue_position(session, escalation),
            agent_name=agent.name if agent else None,
            office_hours=self.hours.describe(),
        )

    def leave_message(self, session: Session, escalation: Escalation, text: str) -> None:
        """Add a message the customer left outside office hours to their ticket."""
        escalation.notes = f"{escalation.notes}\n{text}" if escalation.notes else text
        session.commit()

    # -- agents -----------------------------------------------------------------------------

    def _announce(self, escalation: Escalation, agent: Agent, key: str, **values: Any) -> None:
        """Tell the customer (best effort: the assignment stands if Rasa is down)."""
        if not escalation.sender_id:
            return
        try:
            self.rasa.say(
                escalation.sender_id,
                notice(key, escalation.language, agent=agent.name, **values),
                {"handoff": {"event": key, "agent": agent.name}},
                escalation.channel,
            )
        except RasaUnavailable as err:
            logger.warning("could not tell the customer of handoff %s: %s", escalation.id, err)

    def _publish(self, session: Session, escalations: Sequence[Escalation]) -> None:
        for escalation in escalations:
            item = self.queue_item(session, escalation)
            self.hub.publish(
                {"type": "handoff", "data": item.model_dump(mode="json")}, _visible(escalation)
            )
        self.hub.queue_changed()

    def _assigned(self, session: Session, escalations: Sequence[Escalation]) -> None:
        """After commit: tell customers who joined, and the consoles."""
        for escalation in escalations:
            agent = session.get(Agent, escalation.agent_id) if escalation.agent_id else None
            if agent is not None:
                self._announce(escalation, agent, "agent_joined")
        self._publish(session, escalations)

    @staticmethod
    def _not_acceptable(escalation: Escalation, agent: Agent) -> HandoffConflict | None:
        if not escalation.live or escalation.status not in OPEN_TICKETS:
            return HandoffConflict("this conversation is no longer waiting")
        if escalation.status == EscalationStatus.ASSIGNED and escalation.agent_id != agent.id:
            return HandoffConflict("another agent has taken this conversation")
        return None

    def accept(self, session: Session, escalation: Escalation, agent: Agent) -> QueueItem:
        """An agent takes a waiting handoff (of two at once on any instances, one wins)."""
        if conflict := self._not_acceptable(escalation, agent):
            raise conflict
        if escalation.agent_id == agent.id:
            return self.queue_item(session, escalation)
        if not queue.take(session, escalation, agent):
            session.rollback()  # then read what the other transaction made of it
            if conflict := self._not_acceptable(escalation, agent):
                raise conflict
            return self.queue_item(session, escalation)  # the same agent, twice at once
        audit(session, agent.login, "accept", "escalation", escalation.id)
        session.commit()
        self._assigned(session, [escalation])
        return self.queue_item(session, escalation)

    def transfer(self, session: Session, escalation: Escalation, by: Agent, to: Agent) -> QueueItem:
        """Give the handoff to another agent (as the caller saw it: owner and status)."""
        if not escalation.live or escalation.status not in OPEN_TICKETS:
            raise HandoffConflict("this conversation is closed")
        queue.serialize_assignment(session)  # presence cannot change under us now
        session.refresh(to)
        if not to.active or to.availability == Availability.OFFLINE:
            raise HandoffConflict(f"{to.name} is offline")
        if not queue.hand_over(session, escalation, to, seen_agent=escalation.agent_id):
            session.rollback()
            if not escalation.live or escalation.status not in OPEN_TICKETS:
                raise HandoffConflict("this conversation is closed")
            raise HandoffConflict("this conversation has just changed hands; reload it")
        audit(session, by.login, "transfer", "escalation", escalation.id, to=to.id)
        session.commit()
        self._assigned(session, [escalation])
        return self.queue_item(session, escalation)

    def set_availability(self, session: Session, agent: Agent, availability: Availability) -> None:
        """Presence; offline returns the agent's handoffs to the queue."""
        # Not while another instance assigns (it could give this agent a handoff as they leave).
        queue.serialize_assignment(session)
        agent.availability = availability
        returned = queue.release(session, agent) if availability == Availability.OFFLINE else []
        assigned = queue.auto_assign(session) if self.settings.HANDOFF_AUTO_ASSIGN else []
        session.commit()
        for escalation in returned:
            if escalation.status == EscalationStatus.OPEN:
                self._tell_back_in_queue(session, escalation, agent)
        self._assigned(session, assigned)
        self._publish(session, [e for e in returned if e not in assigned])

    def _tell_back_in_queue(self, session: Session, escalation: Escalation, agent: Agent) -> None:
        position = queue.queue_position(session, escalation)
        self._announce(escalation, agent, "back_in_queue", position=position)

    def assign_waiting(self, session: Session) -> None:
        """Run automatic assignment (e.g. after a handoff closed and capacity freed up)."""
        if not self.settings.HANDOFF_AUTO_ASSIGN:
            return
        assigned = queue.auto_assign(session)
        session.commit()
        self._assigned(session, assigned)

    # -- messages ---------------------------------------------------------------------------

    def _require_owner(self, escalation: Escalation, agent: Agent, sees_all: bool) -> None:
        if escalation.status not in OPEN_TICKETS or not escalation.live:
            raise HandoffConflict("this conversation is closed")
        if escalation.agent_id != agent.id and not sees_all:
            raise HandoffConflict("accept the conversation before you answer it")

    def reply(
        self, session: Session, escalation: Escalation, agent: Agent, text: str, sees_all: bool
    ) -> TranscriptItem:
        """Send an agent's reply to the customer through Rasa and store it once."""
        self._require_owner(escalation, agent, sees_all)
        if escalation.sender_id is None:
            raise HandoffConflict("this ticket has no conversation to answer in")
        metadata = {"agent": {"id": agent.id, "name": agent.name}}
        event = self.rasa.say(
            escalation.sender_id, text, metadata, escalation.channel, timestamp=time.time()
        )
        now = utcnow()
        escalation.first_response_at = escalation.first_response_at or now
        if escalation.agent_id is None:
            queue.take(session, escalation, agent)  # a supervisor answering a waiting one
        message = self._store_sent(session, escalation, event)
        session.commit()
        item = transcript_item(message) if message else self._unstored(event, agent)
        self.hub.publish(
            {"type": "message", "handoff_id": escalation.id, "data": item.model_dump(mode="json")},
            _visible(escalation),
        )
        return item

    def _store_sent(
        self, session: Session, escalation: Escalation, event: dict[str, Any]
    ) -> Message | None:
        """Store a sent bot event as the ingestor would (same key); None if not yet possible."""
        conversation = self.conversation_of(session, escalation)
        if conversation is None:
            return None  # the ingestor stores it with the conversation
        key = RasaEvent(sender_id=escalation.sender_id or "", data=event).key
        existing = session.scalars(select(Message).where(Message.event_key == key)).first()
        if existing is not None:
            return existing
        message = Message(
            conversation_id=conversation.id,
            event_key=key,
            role=MessageRole.AGENT,
            text=event["text"],
            at=datetime.fromtimestamp(event["timestamp"], tz=UTC),
            extra=event["metadata"],
        )
        conversation.status = ConversationStatus.WITH_AGENT
        try:
            with session.begin_nested():
                session.add(IngestedEvent(key=key, at=message.at))
                session.add(message)
        except IntegrityError:
            # The ingestor was faster: it stored the same event already.
            return session.scalars(select(Message).where(Message.event_key == key)).first()
        return message

    @staticmethod
    def _unstored(event: dict[str, Any], agent: Agent) -> TranscriptItem:
        key = RasaEvent(sender_id="", data=event).key
        return TranscriptItem(
            id=f"e-{key}",
            role=MessageRole.AGENT,
            text=event["text"],
            at=datetime.fromtimestamp(event["timestamp"], tz=UTC),
            agent_name=agent.name,
        )

    def note(
        self, session: Session, escalation: Escalation, agent: Agent, text: str
    ) -> TranscriptItem:
        """An internal note: stored in the transcript, never sent to the customer."""
        conversation = self.conversation_of(session, escalation)
        if conversation is None:
            raise HandoffConflict("the conversation is not recorded yet; try again in a moment")
        message = Message(
            conversation_id=conversation.id,
            event_key=f"note-{uuid.uuid4().hex}",
            role=MessageRole.SYSTEM,
            text=text,
            at=utcnow(),
            extra={"internal": True, "agent": {"id": agent.id, "name": agent.name}},
        )
        session.add(message)
        audit(session, agent.login, "note", "escalation", escalation.id)
        session.commit()
        item = transcript_item(message)
        self.hub.publish(
            {"type": "message", "handoff_id": escalation.id, "data": item.model_dump(mode="json")},
            _visible(escalation),
        )
        return item

    def close(
        self,
        session: Session,
        escalation: Escalation,
        agent: Agent,
        mode: str,
        resolution_code: str | None,
        sees_all: bool,
    ) -> QueueItem:
        """Resolve (the bot resumes and asks for a rating) or hand back to the bot."""
        # The row stays locked (PostgreSQL) while Rasa is told: a concurrent close, transfer or
        # accept on another instance waits, then finds it closed (409).
        queue.lock(session, escalation)
        self._require_owner(escalation, agent, sees_all)
        seen_agent = escalation.agent_id
        if escalation.sender_id:
            # Rasa first: if it is down the agent keeps the conversation and can retry.
            self.rasa.resume(escalation.sender_id)
            action = "action_handoff_resolved" if mode == "resolve" else "action_handoff_returned"
            try:
                self.rasa.execute(escalation.sender_id, action, output_channel=escalation.channel)
            except RasaUnavailable as err:
                logger.warning("bot did not take handoff %s back: %s", escalation.id, err)
        now = utcnow()
        values: dict[str, Any] = {
            "agent_id": seen_agent or agent.id,
            "resolution_code": resolution_code
            or ("handed_back" if mode == "hand_back" else "resolved"),
            "resolved_at": escalation.resolved_at or now,
            "status": EscalationStatus.RESOLVED,
        }
        if mode == "hand_back":
            values.update(status=EscalationStatus.CLOSED, closed_at=now)
        if not queue.finish(session, escalation, seen_agent, **values):
            # SQLite only (no row lock): it changed while Rasa was told.
            session.rollback()
            raise HandoffConflict("this conversation was closed or transferred meanwhile")
        audit(session, agent.login, mode, "escalation", escalation.id, code=resolution_code)
        session.commit()
        self._publish(session, [escalation])
        self.assign_waiting(session)
        return self.queue_item(session, escalation)

    # -- from the ingestion worker ------------------------------------------------------------

    def on_ingested(self, notices: Sequence[dict[str, Any]]) -> None:
        """New messages are in the CRM: show them in consoles, check escalation triggers."""
        if not notices:
            return
        with self.sessions() as session:
            # One query for the whole batch: this runs for every message the bridge ingests.
            senders = {item["sender_id"] for item in notices}
            live = {
                escalation.sender_id: escalation
                for escalation in session.scalars(
                    select(Escalation)
                    .where(
                        Escalation.sender_id.in_(senders),
                        Escalation.live.is_(True),
                        Escalation.status.in_(OPEN_TICKETS),
                    )
                    .order_by(Escalation.id)  # the latest of a sender wins below
                )
            }
            for item in notices:
                escalation = live.get(item["sender_id"])
                if escalation is not None:
                    self.hub.publish(
                        {"type": "message", "handoff_id": escalation.id, "data": item["message"]},
                        _visible(escalation),
                    )
                    if item["message"]["role"] == "customer":
                        self.hub.queue_changed()
                elif item["message"]["role"] == "customer":
                    self._check_triggers(session, item)

    def _check_triggers(self, session: Session, item: dict[str, Any]) -> None:
        if item.get("status") != ConversationStatus.BOT.value:
            return
        if time.time() - item["at"] > self.settings.ESCALATE_MAX_EVENT_AGE_SECONDS:
            return  # a replay after downtime: too late to interrupt
        message = item["message"]
        reason = self.rules.reason(
            message.get("text") or "", message.get("sentiment_score"), item.get("recent") or []
        )
        sender = item["sender_id"]
        if reason is None or time.time() - self._triggered.get(sender, 0.0) < 60:
            return
        if (
            reason != "legal_threat"
            and message.get("intent") in self.settings.ESCALATE_SKIP_INTENTS
        ):
            return  # that flow handles an unhappy customer itself
        recent_ticket = session.scalars(
            select(Escalation.id).where(
                Escalation.sender_id == sender,
                Escalation.status.in_(OPEN_TICKETS),
                Escalation.created_at > utcnow() - RECENT_TICKET,
            )
        ).first()
        if recent_ticket is not None:
            return  # already with a human or waiting for one
        self._triggered[sender] = time.time()
        logger.info("escalation trigger %s for a conversation on %s", reason, item.get("channel"))
        # Rasa runs the handoff action (seconds when it is busy): not on the ingestion thread,
        # which would stop storing every other conversation's messages meanwhile.
        self._escalations.submit(self._escalate, sender, reason, item.get("channel"))

    def _escalate(self, sender: str, reason: str, channel: str | None) -> None:
        try:
            self.rasa.execute(
                sender,
                "action_handoff_to_human",
                slots={"handoff_reason": reason},
                output_channel=channel,
            )
        except RasaUnavailable as err:
            logger.warning("escalation trigger %s not delivered: %s", reason, err)
        except Exception:  # noqa: BLE001 - a worker thread: log, never die silently
            logger.exception("escalation trigger %s failed", reason)
