"""The widget's server side in the bridge: history, /widget.js, the demo pages and CORS.

History needs the session token Rasa's widget channel issues (``bot/channels/widget_sessions``)
in ``X-Widget-Session``: the session id alone, a forged secret or a token signed with another
key is refused. Reads are rate-limited; CORS applies to the widget routes only.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta

from channels import widget_sessions
from channels.site_identity import check
from fastapi.testclient import TestClient

from crm_bridge.core.config import Settings
from crm_bridge.core.security import retire_secrets, rotate_secret, sign_site_user
from crm_bridge.main import create_app
from crm_bridge.migrations import upgrade
from crm_bridge.models import Conversation, ConversationStatus, Message, MessageRole

HISTORY = "/api/v1/widget/history"
HEADER = "X-Widget-Session"
SHOP = "https://shop.example"


def _client(tmp_path, client=("testclient", 50000), **overrides) -> TestClient:
    settings = Settings(VAR_DIR=tmp_path, EVENTS_SOURCE="none", **overrides)
    upgrade(settings.database_url)
    return TestClient(create_app(settings), client=client)


def _session(client: TestClient, key: str | None = None) -> tuple[str, str]:
    """A session as Rasa's widget channel issues it: ``(session id, token)``."""
    settings = client.app.state.settings
    return widget_sessions.issue(settings.widget_session_keys[0] if key is None else key)


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


def _history(client: TestClient, token: str | None, **headers: str):
    if token is not None:
        headers[HEADER] = token
    return client.get(HISTORY, headers=headers)


def test_history_serves_a_widget_session_without_internal_notes(tmp_path):
    with _client(tmp_path) as client:
        session_id, token = _session(client)
        _conversation(
            client,
            f"socketio:{session_id}",
            "socketio",
            [
                ("customer", "你好", {}),
                ("bot", "您好！", {}),
                ("customer", '/kb_helpful{"kb_entry":"x"}', {}),
                ("system", "内部备注", {"internal": True, "agent": {"name": "李娜"}}),
                ("agent", "<b>我来帮您</b>", {"agent": {"id": 1, "name": "李娜"}}),
            ],
        )
        response = _history(client, token)
        assert response.status_code == 200, response.text
        lines = response.json()["data"]
        assert [(line["role"], line["text"]) for line in lines] == [
            ("customer", "你好"),
            ("bot", "您好！"),
            ("agent", "<b>我来帮您</b>"),
        ]
        assert lines[2]["agent_name"] == "李娜"
        # A new session has nothing yet.
        assert _history(client, _session(client)[1]).json() == {"data": [], "count": 0}


def test_history_needs_the_sessions_token(tmp_path):
    with _client(tmp_path) as client:
        session_id, token = _session(client)
        _conversation(client, f"socketio:{session_id}", "socketio", [("customer", "我的地址", {})])
        other_id, other_token = _session(client)
        stolen_secret = other_token.split(".", 1)[1]
        _, foreign = _session(client, key="a-key-of-another-deployment-0123456789")
        refused = {
            "no token": None,
            "the session id alone": session_id,
            "the id with another session's secret": f"{session_id}.{stolen_secret}",
            "the id with a secret signed by another key": f"{session_id}.{foreign.split('.')[1]}",
            "a token of another key": foreign,
            "a changed secret": token[:-1] + ("A" if token[-1] != "A" else "B"),
            "a longer secret": token + "x",
            "an empty secret": f"{session_id}.",
            "not an id": "alice." + token.split(".", 1)[1],
        }
        for why, bad in refused.items():
            response = _history(client, bad)
            assert response.status_code == 401, (why, response.status_code, response.text)
            assert "我的地址" not in response.text
        # The old query parameter is no credential.
        response = client.get(HISTORY, params={"session_id": session_id})
        assert response.status_code == 401
        too_long = _history(client, token + "x" * 300)
        assert too_long.status_code in (401, 422) and "我的地址" not in too_long.text
        assert _history(client, token).json()["count"] == 1
        assert other_id != session_id


def test_history_serves_only_the_widget_conversation_of_the_session(tmp_path):
    with _client(tmp_path) as client:
        session_id, token = _session(client)
        # A REST client that named the widget session as its sender wrote to a conversation of
        # its own ("rest:w_…"); an unqualified row from before the keys changed is not served.
        _conversation(client, f"rest:{session_id}", "rest", [("customer", "rest talk", {})])
        _conversation(client, session_id, "socketio", [("customer", "old key", {})])
        _conversation(client, f"socketio:{session_id}", "rest", [("customer", "mislabelled", {})])
        response = _history(client, token)
        assert response.status_code == 200 and response.json() == {"data": [], "count": 0}
        _conversation(client, f"socketio:{session_id}", "socketio", [("bot", "widget talk", {})])
        assert [line["text"] for line in _history(client, token).json()["data"]] == ["widget talk"]


def test_tokens_from_rasas_channel_work_with_the_shared_key_and_its_rotation(tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    key_file = secrets / "widget_session_key"
    key_file.write_text("current-widget-key-0123456789abcdef\nolder-widget-key-0123456789abcdef\n")
    key_file.chmod(0o600)
    with _client(tmp_path) as client:
        settings = client.app.state.settings
        assert settings.widget_session_keys == [
            "current-widget-key-0123456789abcdef",
            "older-widget-key-0123456789abcdef",
        ]
        _, current = widget_sessions.issue("current-widget-key-0123456789abcdef")
        _, older = widget_sessions.issue("older-widget-key-0123456789abcdef")  # the second line
        for token in (current, older):
            assert _history(client, token).status_code == 200
        # Rotated while running: the new key signs, the old ones still open their sessions;
        # once retired, only the current key's tokens are accepted.
        new_key = rotate_secret(key_file)
        _, newest = widget_sessions.issue(new_key)
        for token in (newest, current, older):
            assert _history(client, token).status_code == 200
        assert retire_secrets(key_file) == 2
        assert _history(client, newest).status_code == 200
        for token in (current, older):
            assert _history(client, token).status_code == 401


def test_history_is_rate_limited_per_address_and_per_session(tmp_path):
    one, other = ("203.0.113.7", 40000), ("198.51.100.9", 40001)
    with _client(tmp_path, client=one, WIDGET_HISTORY_RATE_LIMIT="3/minute") as first:
        app = first.app
        tokens = [_session(first)[1] for _ in range(4)]
        # Per address: a fourth read from one address is refused, whichever session.
        assert [_history(first, t).status_code for t in tokens[:3]] == [200, 200, 200]
        limited = _history(first, tokens[3])
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "too many requests" in limited.json()["detail"]
        # Per session: another address still reads other sessions, but a session read three
        # times in the window is refused wherever the reads come from.
        with TestClient(app, client=other) as second:
            assert _history(second, tokens[0]).status_code == 200  # its 2nd read
            assert _history(second, tokens[0]).status_code == 200  # its 3rd read
            assert _history(second, tokens[0]).status_code == 429


def test_cors_only_for_the_widget_routes_and_only_for_configured_shops(tmp_path):
    with _client(tmp_path / "default") as client:
        _, token = _session(client)
        response = _history(client, token, Origin=SHOP)
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers  # no shop configured
    with _client(tmp_path / "shop", WIDGET_ALLOWED_ORIGINS=[SHOP]) as client:
        _, token = _session(client)
        response = _history(client, token, Origin=SHOP)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == SHOP
        assert "access-control-allow-credentials" not in response.headers
        preflight = client.options(
            HISTORY,
            headers={
                "Origin": SHOP,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": HEADER,
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == SHOP
        assert HEADER.lower() in preflight.headers["access-control-allow-headers"].lower()
        assert "POST" not in preflight.headers["access-control-allow-methods"]
        elsewhere = _history(client, token, Origin="https://evil.example")
        assert "access-control-allow-origin" not in elsewhere.headers
        denied = client.options(
            HISTORY,
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in denied.headers
        # Every other route answers a shop page like any other origin: no CORS headers.
        key = {"X-API-Key": client.app.state.settings.api_key.get_secret_value()}
        for path in ("/api/v1/customers", "/health", "/api/v1/agents/me", "/widget.js"):
            response = client.get(path, headers={"Origin": SHOP, **key})
            assert not any(h.startswith("access-control-") for h in response.headers), path
        for path in ("/api/v1/customers", "/api/v1/bot/identify", "/api/v1/login/access-token"):
            preflight = client.options(
                path,
                headers={
                    "Origin": SHOP,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "X-API-Key",
                },
            )
            assert not any(h.startswith("access-control-") for h in preflight.headers), path


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
        user = config["user"]
        assert set(user) == {"id", "expires", "hash"}
        # Signed as a shop's server would: expiring within the hour.
        assert 0 < user["expires"] - time.time() <= 3600 + 5
        secret = client.app.state.settings.site_identity_secret.get_secret_value()
        assert user["hash"] == sign_site_user(secret, user["id"], user["expires"])
        # ... and Rasa's widget channel accepts the claim the page passes on.
        claim = {"user_id": user["id"], "user_expires": user["expires"], "user_hash": user["hash"]}
        assert check([secret], claim).user_id == user["id"]
