"""The agent console's live channel (WebSocket), presence and knowledge-base search."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, WebSocket, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect

from crm_bridge.api.contract import errors
from crm_bridge.api.deps import (
    STAFF,
    Principal,
    SessionDep,
    TokenRejected,
    agent_of_token,
    principal_of,
    require,
)
from crm_bridge.core.storage_faults import StorageFault, classify, log_fault
from crm_bridge.models import Agent
from crm_bridge.schemas import AgentPublic, AvailabilityUpdate, KbHit, Language, Page
from crm_bridge.services import agent_sessions
from crm_bridge.services.console_hub import Audience, ConsoleClient
from crm_bridge.services.handoff import HandoffDesk

logger = logging.getLogger(__name__)
router = APIRouter(tags=["console"])
Staff = Annotated[Principal, Depends(require(*STAFF))]
# WebSocket close codes (RFC 6455 and IANA's registry). The console reconnects after any
# close, with backoff, and refetches what it may have missed.
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
MAX_TOKEN_CHARS = 4096


@router.put(
    "/agents/me/availability",
    response_model=AgentPublic,
    operation_id="agents-availability",
    responses=errors({403: "only agents have a presence (the full key, or a role that may not)"}),
)
def set_availability(
    request: Request, session: SessionDep, principal: Staff, body: AvailabilityUpdate
) -> AgentPublic:
    """Online, away or offline; offline returns the agent's handoffs to the queue."""
    agent = session.get(Agent, principal.agent_id)
    if agent is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="not an agent")
    desk: HandoffDesk = request.app.state.desk
    desk.set_availability(session, agent, body.availability)
    public = AgentPublic.model_validate(agent)
    desk.hub.publish(
        {"type": "agent", "data": public.model_dump(mode="json")},
        Audience(agent_id=agent.id, supervisors=False),
    )
    return public


@router.get(
    "/kb/search",
    response_model=Page[KbHit],
    operation_id="kb-search",
    responses=errors({503: "the knowledge-base index is not built yet"}),
)
def kb_search(
    request: Request,
    _principal: Staff,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    language: Language | None = None,
) -> Page[KbHit]:
    """Knowledge-base answers for the agent to insert into a reply."""
    kb = request.app.state.knowledge_base()
    if kb is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="knowledge base index not built: run `kb build` (make run does)",
        )
    result = kb.search(q, k=5, lang=language)
    entries = {e.id: e for e in kb.entries}
    hits = []
    for hit in result.hits:
        entry = entries.get(hit.id)
        question = entry.questions[0] if entry and entry.questions else hit.matched
        hits.append(
            KbHit(entry_id=hit.id, question=question, answer=hit.answer, score=hit.confidence)
        )
    return Page(data=hits, count=len(hits))


def _principal_of(websocket: WebSocket, token: str) -> Principal | None:
    with websocket.app.state.session_factory() as session:
        try:
            login = agent_of_token(session, websocket.app.state.settings, token)
        except TokenRejected:
            return None
        return principal_of(login.agent, login.session_id)


def _still_valid(websocket: WebSocket, who: Principal) -> bool:
    assert who.agent_id is not None and who.session_id is not None
    with websocket.app.state.session_factory() as session:
        return agent_sessions.still_valid(
            session, websocket.app.state.settings, who.agent_id, who.session_id
        )


def _snapshot(desk: HandoffDesk, client: ConsoleClient) -> dict[str, Any]:
    with desk.sessions() as session:
        items = desk.queue_for(session, client.agent_id, client.sees_all)
        session.commit()
    return {"type": "queue", "data": [i.model_dump(mode="json") for i in items]}


async def _send_loop(websocket: WebSocket, desk: HandoffDesk, client: ConsoleClient) -> None:
    while True:
        outbox = asyncio.ensure_future(client.outbox.get())
        dirty = asyncio.ensure_future(client.queue_dirty.wait())
        done, pending = await asyncio.wait({outbox, dirty}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if outbox in done:
            await websocket.send_json(outbox.result())
        if client.queue_dirty.is_set():
            client.queue_dirty.clear()
            await websocket.send_json(await run_in_threadpool(_snapshot, desk, client))


def _storage_fault(err: BaseException, during: str) -> StorageFault | None:
    """Log ``err`` in one line if it is a storage fault (the console will be told to retry)."""
    fault = classify(err) if isinstance(err, SQLAlchemyError) else None
    if fault is not None:
        then = "closed the console's socket (1013); it reconnects"
        log_fault(logger, fault, err, during=during, then=then)
    return fault


async def _receive_loop(websocket: WebSocket, client: ConsoleClient) -> None:
    while True:
        message = await websocket.receive_json()
        if isinstance(message, dict) and message.get("type") == "ping":
            await client.outbox.put({"type": "pong"})


async def _watch_session(websocket: WebSocket, client: ConsoleClient, who: Principal) -> str:
    """Wait until the console's session ends; the reason to close with.

    Ending a session closes its consoles at once through the hub (and the relay); checking the
    database every ``WS_SESSION_CHECK_SECONDS`` as well catches sessions that expire, and
    revocations an instance missed while Redis was away.
    """
    every = websocket.app.state.settings.WS_SESSION_CHECK_SECONDS
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.ended.wait(), timeout=every)
        if client.ended.is_set():
            return client.end_reason or "session ended"
        if not await run_in_threadpool(_still_valid, websocket, who):
            return "session ended"


async def _auth_frame(websocket: WebSocket) -> str | None:
    """The token of the first frame, ``{"type": "auth", "token": …}``; None if it is not one.

    Raises:
        TimeoutError: no frame within ``WS_AUTH_TIMEOUT_SECONDS``.
    """
    timeout = websocket.app.state.settings.WS_AUTH_TIMEOUT_SECONDS
    try:
        message = await asyncio.wait_for(websocket.receive_json(), timeout=timeout)
    except (ValueError, KeyError):  # not JSON, or a binary frame
        return None
    if not isinstance(message, dict) or message.get("type") != "auth":
        return None
    token = message.get("token")
    return token if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_CHARS else None


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    # The console may have gone meanwhile: nothing to close then.
    with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
        await websocket.close(code=code, reason=reason)


async def _log_in(websocket: WebSocket) -> Principal | None:
    """Accept the socket and authenticate it by its first frame; None when it was closed."""
    await websocket.accept()
    if "token" in websocket.query_params:
        # Tokens in URLs end up in access logs and proxies' logs: refused outright.
        await _close(websocket, POLICY_VIOLATION, "send the token in an auth frame, not the URL")
        return None
    try:
        token = await _auth_frame(websocket)
    except TimeoutError:
        await _close(websocket, POLICY_VIOLATION, "no auth frame in time")
        return None
    except WebSocketDisconnect:
        return None
    if token is None:
        await _close(websocket, POLICY_VIOLATION, "the first frame must be an auth frame")
        return None
    try:
        who = await run_in_threadpool(_principal_of, websocket, token)
    except SQLAlchemyError as err:
        if (fault := _storage_fault(err, "console log-in")) is None:
            raise
        await _close(websocket, TRY_AGAIN_LATER, fault.kind.value)
        return None
    if who is None:
        await _close(websocket, POLICY_VIOLATION, "log in again")
    return who


@router.websocket("/console/ws")
async def console_socket(websocket: WebSocket) -> None:
    """Live events for one console, authenticated by its first frame.

    The console sends ``{"type": "auth", "token": "<access token>"}`` within
    ``WS_AUTH_TIMEOUT_SECONDS`` of opening (a token in the URL is refused: URLs are logged).
    The socket is closed with 1008 when the token is not accepted and, later, as soon as the
    agent's session ends (logout, deactivation, password change or reset, expiry).

    A storage fault (database locked, full, unreachable) closes the socket with 1013 and the
    fault as the reason, so the console reconnects when it passes instead of staying open
    without events.
    """
    who = await _log_in(websocket)
    if who is None:
        return
    desk: HandoffDesk = websocket.app.state.desk
    client = desk.hub.register(agent_id=who.agent_id, role=who.role, session_id=who.session_id)
    sender = asyncio.create_task(_send_loop(websocket, desk, client))
    receiver = asyncio.create_task(_receive_loop(websocket, client))
    watcher = asyncio.create_task(_watch_session(websocket, client, who))
    try:
        await asyncio.wait({sender, receiver, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not receiver.done():
            # The socket is open but nothing more would reach it, or it must not: close it.
            receiver.cancel()
            code, reason = _closing(who, sender, watcher)
            await _close(websocket, code, reason)
    finally:
        desk.hub.unregister(client)
        for task in (sender, receiver, watcher):
            task.cancel()
            # The receiver ends with the socket (WebSocketDisconnect, or a frame that is not
            # JSON); the others' own failures were handled above.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        logger.debug("console of agent %s disconnected", who.agent_id)


def _closing(who: Principal, sender: asyncio.Task, watcher: asyncio.Task) -> tuple[int, str]:
    """The close code and reason after the sender or the session watcher stopped."""
    if watcher.done() and not watcher.cancelled() and watcher.exception() is None:
        return POLICY_VIOLATION, watcher.result()
    failed, during = (
        (sender, "console queue update") if sender.done() else (watcher, "console session check")
    )
    err = failed.exception() if not failed.cancelled() else None
    fault = _storage_fault(err, during) if err is not None else None
    # A send to a socket the console just closed is no failure of ours.
    if fault is None and not isinstance(err, WebSocketDisconnect | OSError):
        logger.error("console of agent %s: %s failed", who.agent_id, during, exc_info=err)
    return (TRY_AGAIN_LATER, fault.kind.value) if fault else (INTERNAL_ERROR, "error")
