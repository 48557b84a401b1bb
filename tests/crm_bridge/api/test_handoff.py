"""The handoff API without a bot server: opening, office hours, routing, permissions.

Rasa is not running here, so telling customers fails softly (logged) and replies answer 503;
the conversation side is covered end to end in tests/e2e/test_live_handoff.py.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade
from crm_bridge.models import AgentRole, Escalation
from tests.utils.databases import database
from tests.utils.factories import PASSWORD, make_agent, make_customer
from tests.utils.proofs import EXPIRED, FORGED_KEY, bot_headers, bot_key

TURNS = [
    {
        "role": "customer",
        "text": "我的订单一直没有发货，已经等了一个星期了",
        "intent": "order_status",
    },
    {"role": "bot", "text": "请提供订单号", "kb_entry_id": "shipping-time", "kb_score": 0.41},
    {"role": "customer", "text": "转人工", "intent": "human_handoff", "confidence": 0.98},
]


def _app(tmp_path, **overrides) -> TestClient:
    settings = Settings(VAR_DIR=tmp_path, EVENTS_SOURCE="none", RASA_TIMEOUT=0.5, **overrides)
    upgrade(settings.database_url)
    return TestClient(create_app(settings))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """The CRM on each supported database."""
    with database(request.param, tmp_path) as url:
        yield url


def _agent(client: TestClient, role=AgentRole.AGENT, languages=("zh",), online=True) -> dict:
    with client.app.state.session_factory() as session:
        agent = make_agent(session, role, languages=list(languages))
        session.commit()
        login, agent_id = agent.login, agent.id
    token = client.post(
        "/api/v1/login/access-token", data={"username": login, "password": PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    if online:
        response = client.put(
            "/api/v1/agents/me/availability", json={"availability": "online"}, headers=headers
        )
        assert response.status_code == 200, response.text
    return {"id": agent_id, "headers": headers}


def _body(sender: str, language: str = "zh", reason="asked_for_human", turns=None, **more):
    return {
        "sender_id": sender,
        "reason": reason,
        "language": language,
        "channel": sender.split(":", 1)[0],
        "transcript": TURNS if turns is None else turns,
        **more,
    }


def _open(
    client: TestClient, sender: str, language: str = "zh", reason="asked_for_human", turns=None
):
    """The bot hands the conversation ``socketio:<sender>`` over, with that message's proof."""
    key = f"socketio:{sender}"
    headers = bot_headers(client.app.state.settings, key)
    response = client.post(
        "/api/v1/handoff", json=_body(key, language, reason, turns), headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_handoff_goes_to_the_least_busy_agent_who_speaks_the_language(tmp_path, db_url):
    with _app(tmp_path, DATABASE_URL=db_url) as client:
        zh1, zh2 = _agent(client), _agent(client)
        en = _agent(client, languages=("en",))
        first = _open(client, "s1")
        second = _open(client, "s2")
        english = _open(client, "s3", language="en")
        assert first["mode"] == second["mode"] == english["mode"] == "assigned"
        queue = client.get("/api/v1/handoff/queue", headers=zh1["headers"]).json()["data"]
        mine = [i for i in queue if i["agent_id"] == zh1["id"]]
        assert len(mine) == 1  # one each: least busy first
        en_queue = client.get("/api/v1/handoff/queue", headers=en["headers"]).json()["data"]
        assert [i["sender_id"] for i in en_queue] == ["socketio:s3"]
        assert _open(client, "s1")["id"] == first["id"]  # idempotent per sender
        detail = client.get(f"/api/v1/handoff/{first['id']}", headers=zh1["headers"])
        other = client.get(f"/api/v1/handoff/{first['id']}", headers=zh2["headers"])
        owner, stranger = (detail, other) if mine[0]["id"] == first["id"] else (other, detail)
        assert owner.status_code == 200 and stranger.status_code == 404
        context = owner.json()["context"]
        assert context["kb_attempts"] == [
            {"entry_id": "shipping-time", "score": 0.41, "decision": None}
        ]
        assert [i["intent"] for i in context["intents"]] == ["order_status", "human_handoff"]
        assert "发货" in context["summary"]


def test_queue_order_capacity_offline_and_manual_accept(tmp_path, db_url):
    with _app(tmp_path, DATABASE_URL=db_url) as client:
        agent = _agent(client)
        with client.app.state.session_factory() as session:
            from crm_bridge.models import Agent

            session.get(Agent, agent["id"]).max_concurrent = 1
            session.commit()
        calm = [{"role": "customer", "text": "你好，请帮我转人工", "intent": "human_handoff"}]
        _open(client, "a", turns=calm)
        waiting = _open(client, "b", turns=calm)
        urgent = _open(client, "c", reason="legal_threat", turns=calm)
        assert waiting["mode"] == urgent["mode"] == "queued"
        queue = client.get("/api/v1/handoff/queue", headers=agent["headers"]).json()["data"]
        assert [i["sender_id"] for i in queue if i["status"] == "open"] == [
            "socketio:c",
            "socketio:b",
        ]
        # Going offline returns the conversation; back online takes the most urgent first.
        client.put(
            "/api/v1/agents/me/availability",
            json={"availability": "offline"},
            headers=agent["headers"],
        )
        queue = client.get("/api/v1/handoff/queue", headers=agent["headers"]).json()["data"]
        assert all(i["status"] == "open" for i in queue) and len(queue) == 3
        client.put(
            "/api/v1/agents/me/availability",
            json={"availability": "online"},
            headers=agent["headers"],
        )
        queue = client.get("/api/v1/handoff/queue", headers=agent["headers"]).json()["data"]
        assert [i["sender_id"] for i in queue if i["status"] == "assigned"] == ["socketio:c"]
        # A second agent picks one by hand; a third cannot take it any more.
        picker = _agent(client, online=False)
        taken = client.post(f"/api/v1/handoff/{waiting['id']}/accept", headers=picker["headers"])
        assert taken.status_code == 200 and taken.json()["agent_id"] == picker["id"]
        late = _agent(client, online=False)
        refused = client.post(f"/api/v1/handoff/{waiting['id']}/accept", headers=late["headers"])
        assert refused.status_code == 409
        assert refused.json()["detail"] == "another agent has taken this conversation"
        # Acting on another agent's conversation says why; merely reading it is not found.
        for action, body in (("messages", {"text": "hi"}), ("close", {"mode": "hand_back"})):
            meddling = client.post(
                f"/api/v1/handoff/{waiting['id']}/{action}", json=body, headers=late["headers"]
            )
            assert meddling.status_code == 409, meddling.text
            assert meddling.json()["detail"] == "another agent has taken this conversation"
        peek = client.get(f"/api/v1/handoff/{waiting['id']}", headers=late["headers"])
        assert peek.status_code == 404
        # Replying needs the bot server: a clear 503, nothing stored as sent.
        reply = client.post(
            f"/api/v1/handoff/{waiting['id']}/messages",
            json={"text": "hello"},
            headers=picker["headers"],
        )
        assert reply.status_code == 503 and "try again" in reply.json()["detail"]


def test_outside_office_hours_or_without_agents_a_ticket_is_opened(tmp_path):
    with _app(tmp_path / "closed", OFFICE_HOURS="00:00-00:00") as client:
        _agent(client)
        opened = _open(client, "night")
        assert opened["mode"] == "ticket" and opened["why_ticket"] == "closed"
    with _app(tmp_path / "empty") as client:
        _agent(client, languages=("en",))  # online, but not for Chinese
        opened = _open(client, "nobody")
        assert opened["mode"] == "ticket" and opened["why_ticket"] == "no_agents"
        settings = client.app.state.settings
        url = f"/api/v1/handoff/{opened['id']}/left-message"
        mine, other = "socketio:nobody", "socketio:someone-else"
        left = client.post(
            url, json={"sender_id": mine, "text": "请回电"}, headers=bot_headers(settings, mine)
        )
        assert left.status_code == 200, left.text
        # Another conversation's proof cannot write on this ticket, whatever the body names.
        forged = client.post(
            url, json={"sender_id": mine, "text": "x"}, headers=bot_headers(settings, other)
        )
        assert forged.status_code == 403
        elsewhere = client.post(
            url, json={"sender_id": other, "text": "x"}, headers=bot_headers(settings, other)
        )
        assert elsewhere.status_code == 404
        # An expired proof still writes for its own conversation (the customer left a while
        # ago); the full key writes for any conversation it names, as before.
        late = client.post(
            url,
            json={"sender_id": mine, "text": "还在吗"},
            headers=bot_headers(settings, mine, age=EXPIRED),
        )
        assert late.status_code == 200, late.text
        full = {"X-API-Key": settings.api_key.get_secret_value()}
        assert (
            client.post(url, json={"sender_id": other, "text": "x"}, headers=full).status_code
            == 404
        )
        assert (
            client.post(
                url, json={"sender_id": mine, "text": "x"}, headers=bot_key(settings)
            ).status_code
            == 401
        )


@pytest.mark.parametrize("path", ["/api/v1/handoff/queue", "/api/v1/handoff/options"])
def test_console_routes_need_an_agent(tmp_path, path):
    with _app(tmp_path) as client:
        assert client.get(path).status_code == 401
        key = client.app.state.settings.api_key.get_secret_value()
        assert client.get(path, headers={"X-API-Key": key}).status_code == 403


def test_the_bot_hands_over_only_its_proofs_conversation_and_customer(tmp_path, db_url):
    with _app(tmp_path, DATABASE_URL=db_url) as client:
        settings = client.app.state.settings
        _agent(client)
        user, other_user = f"shop-{uuid.uuid4().hex[:8]}", f"shop-{uuid.uuid4().hex[:8]}"
        with client.app.state.session_factory() as session:
            proven = make_customer(session, identities=[("site", user, True)]).id
            named = make_customer(session, identities=[("site", other_user, True)]).id
            session.commit()

        def customer_of(handoff_id: int) -> int | None:
            with client.app.state.session_factory() as session:
                return session.get(Escalation, handoff_id).customer_id

        def open_(body: dict, headers: dict) -> object:
            return client.post("/api/v1/handoff", json=body, headers=headers)

        # The customer is the one the message proved; a customer_id in the body is ignored.
        key = f"socketio:w_{uuid.uuid4().hex}"
        response = open_(_body(key, customer_id=named), bot_headers(settings, key, site_user=user))
        assert response.status_code == 201, response.text
        assert customer_of(response.json()["id"]) == proven
        anonymous = f"rest:{uuid.uuid4().hex}"
        response = open_(_body(anonymous, customer_id=named), bot_headers(settings, anonymous))
        assert response.status_code == 201 and customer_of(response.json()["id"]) is None
        # Agents' replies go out on the handoff's channel, and Rasa gives each output the plain
        # sender id: a REST conversation "rest:o…" handed over as "wechat" would send them to
        # the WeChat follower o…. The channel is the proof's.
        follower = f"rest:o-{uuid.uuid4().hex[:12]}"
        body = {**_body(follower), "channel": "wechat"}
        response = open_(body, bot_headers(settings, follower))
        assert response.status_code == 201, response.text
        with client.app.state.session_factory() as session:
            assert session.get(Escalation, response.json()["id"]).channel == "rest"
        # An expired proof still hands its own conversation over (without naming anyone).
        late = f"socketio:w_{uuid.uuid4().hex}"
        response = open_(_body(late), bot_headers(settings, late, site_user=user, age=EXPIRED))
        assert response.status_code == 201, response.text
        assert customer_of(response.json()["id"]) is None

        # Refused, and nothing opened: another conversation, no proof, a forged proof.
        victim = f"wechat:o-{uuid.uuid4().hex[:12]}"
        refused = [
            (_body(victim), bot_headers(settings, f"rest:{victim.split(':')[1]}"), 403),
            (_body(victim), bot_key(settings), 401),
            (_body(victim), bot_headers(settings, victim, key=FORGED_KEY), 401),
        ]
        for body, headers, code in refused:
            response = open_(body, headers)
            assert response.status_code == code, response.text
        with client.app.state.session_factory() as session:
            opened = session.scalars(select(Escalation).where(Escalation.sender_id == victim))
            assert opened.all() == []
        # The full key (administration) may name the customer itself.
        full = {"X-API-Key": settings.api_key.get_secret_value()}
        key = f"socketio:w_{uuid.uuid4().hex}"
        response = open_(_body(key, customer_id=named), full)
        assert response.status_code == 201 and customer_of(response.json()["id"]) == named
