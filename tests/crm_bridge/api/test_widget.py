"""The widget's server side in the bridge: history, /widget.js and the demo pages."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from crm_bridge.core.config import Settings
from crm_bridge.core.security import verify_site_user
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade
from crm_bridge.models import Conversation, ConversationStatus, Message, MessageRole


def _client(tmp_path, **overrides) -> TestClient:
    settings = Settings(VAR_DIR=tmp_path, EVENTS_SOURCE="none", **overrides)
    upgrade(settings.database_url)
    return TestClient(create_app(settings))


def _conversation(client, sender: str, channel: str, lines: list[tuple[str, str, dict]]) -> None:
    start = datetime.now(UTC)
    with client.app.state.session_factory() as session:
        conversation = Conversation(
            sender_id=sender, channel=channel, status=ConversationStatus.BOT, started_at=start
        )
        session.add(conversation)
        session.flush()
        for n, (role, text, extra) in enumerate(lines):
            session.add(
                Message(
                    conversation_id=conversation.id,
                    event_key=uuid.uuid4().hex,
                    role=MessageRole(role),
                    text=text,
                    at=start + timedelta(seconds=n),
                    extra=extra,
                )
            )
        session.commit()


def test_history_serves_a_widget_session_without_internal_notes(tmp_path):
    with _client(tmp_path) as client:
        session_id = "w_" + uuid.uuid4().hex
        _conversation(
            client,
            session_id,
            "socketio",
            [
                ("customer", "你好", {}),
                ("bot", "您好！", {}),
                ("customer", '/kb_helpful{"kb_entry":"x"}', {}),
                ("system", "内部备注", {"internal": True, "agent": {"name": "李娜"}}),
                ("agent", "<b>我来帮您</b>", {"agent": {"id": 1, "name": "李娜"}}),
            ],
        )
        response = client.get("/api/v1/widget/history", params={"session_id": session_id})
        assert response.status_code == 200
        lines = response.json()["data"]
        assert [(line["role"], line["text"]) for line in lines] == [
            ("customer", "你好"),
            ("bot", "您好！"),
            ("agent", "<b>我来帮您</b>"),
        ]
        assert lines[2]["agent_name"] == "李娜"
        cors = client.get(
            "/api/v1/widget/history",
            params={"session_id": session_id},
            headers={"Origin": "https://shop.example"},
        )
        assert cors.headers["access-control-allow-origin"] == "*"


def test_history_refuses_other_channels_and_malformed_ids(tmp_path):
    with _client(tmp_path) as client:
        session_id = "w_" + uuid.uuid4().hex
        _conversation(client, session_id, "rest", [("customer", "secret order talk", {})])
        same_id = client.get("/api/v1/widget/history", params={"session_id": session_id})
        assert same_id.json()["data"] == []
        for bad in ("alice", "w_" + "g" * 32, "w_" + uuid.uuid4().hex + "x", "../etc"):
            response = client.get("/api/v1/widget/history", params={"session_id": bad})
            assert response.status_code == 422, bad


def test_widget_bundle_is_served_with_revalidation(tmp_path):
    built = tmp_path / "widget"
    with _client(tmp_path / "var", WIDGET_DIR=built) as client:
        missing = client.get("/widget.js")
        assert missing.status_code == 503 and "make setup" in missing.text
        built.mkdir()
        (built / "widget.js").write_text("console.log('widget')")
        first = client.get("/widget.js")
        assert first.status_code == 200 and first.headers["content-type"].startswith(
            "text/javascript"
        )
        assert "max-age=300" in first.headers["cache-control"]
        again = client.get("/widget.js", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304


def test_demo_pages_embed_the_widget_and_sign_the_demo_customer(tmp_path):
    with _client(tmp_path, RASA_PUBLIC_URL="http://rasa.example:5005") as client:
        home = client.get("/")
        assert home.status_code == 200 and '<script src="/widget.js"' in home.text
        config = json.loads(re.search(r"CSAWidgetConfig = (\{.*?\});", home.text).group(1))
        assert config["rasaUrl"] == "http://rasa.example:5005" and "user" not in config
        signed = client.get("/demo/signed")
        config = json.loads(re.search(r"CSAWidgetConfig = (\{.*?\});", signed.text).group(1))
        secret = client.app.state.settings.site_identity_secret
        assert verify_site_user(secret, config["user"]["id"], config["user"]["hash"])
