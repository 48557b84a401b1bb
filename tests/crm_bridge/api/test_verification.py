"""Chat-account verification by one-time code, on SQLite and PostgreSQL.

Delivery goes to real endpoints: the development outbox (files), a real SMTP server
(aiosmtpd, standing in for the shop's mail server) and a local SMS gateway webhook.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from crm_bridge.core.config import Settings
from crm_bridge.core.proofs import PROOF_HEADER
from crm_bridge.main import create_app
from crm_bridge.models import (
    AuditLog,
    Conversation,
    ConversationStatus,
    CustomerIdentity,
    IdentityVerification,
    utcnow,
)
from crm_bridge.services.verification import Contact, parse_contact
from tests.utils.browser import serve
from tests.utils.factories import make_customer, make_order
from tests.utils.processes import free_port
from tests.utils.proofs import EXPIRED, FORGED_KEY, bot_key, proof

START = "/api/v1/bot/verification"
CONFIRM = "/api/v1/bot/verification/confirm"
IDENTIFY = "/api/v1/bot/identify"


def _app(database_url: str, var: Path, **settings) -> Iterator[tuple[TestClient, Settings]]:
    """The bridge, called with the bot's key (each request adds its message's proof)."""
    config = Settings(VAR_DIR=var, DATABASE_URL=database_url, EVENTS_SOURCE="none", **settings)
    with TestClient(create_app(config)) as client:
        client.headers.update(bot_key(config))
        yield client, config


@pytest.fixture(scope="module")
def outbox_app(api_database_url, tmp_path_factory, sentiment_scorer):
    """The bridge with codes written to a development outbox."""
    var = tmp_path_factory.mktemp("var")
    yield from _app(api_database_url, var, CODE_OUTBOX_DIR=var / "outbox", VERIFY_MAX_PER_HOUR=3)


@pytest.fixture
def client(outbox_app) -> TestClient:
    return outbox_app[0]


@pytest.fixture
def customer(outbox_app):
    """A customer with a unique phone and e-mail, and one order."""
    client, _ = outbox_app
    n = uuid.uuid4().int % 10**8
    with client.app.state.session_factory() as session:
        made = make_customer(
            session, name="赵敏", email=f"Zhao.{n}@Example.com", phone=f"+86 135 {n:08d}"[:19]
        )
        make_order(session, made, f"DS{n:08d}")
        session.commit()
        return {"id": made.id, "email": made.email, "phone": made.phone, "order": f"DS{n:08d}"}


def _codes(settings: Settings, to: str) -> list[str]:
    folder = settings.CODE_OUTBOX_DIR
    assert folder is not None
    found = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        message = json.loads(path.read_text())
        if message["to"] == to:
            found.append(re.search(r"\d{6}", message["text"]).group())
    return found


@dataclass(frozen=True)
class Sender:
    """A WeChat follower: Rasa proves its OpenID on each message (signed webhook)."""

    open_id: str
    headers: dict[str, str]
    channel: str = "wechat"


def _sender(settings: Settings, channel: str = "wechat") -> Sender:
    open_id = f"o-{uuid.uuid4().hex[:16]}"
    conversation = f"{channel}:{open_id}"
    token = proof(settings, conversation, platform_id=open_id)
    return Sender(open_id=open_id, headers={PROOF_HEADER: token}, channel=channel)


def test_contacts_are_normalised():
    assert parse_contact("+86 138-0013-8000") == Contact("phone", "13800138000")
    assert parse_contact("0086 13800138000") == Contact("phone", "13800138000")
    assert parse_contact(" Wang@Example.COM ") == Contact("email", "wang@example.com")
    assert parse_contact("+44 20 7946 0958") == Contact("phone", "442079460958")
    for bad in ("hello", "12", "a@b", "1380013800O", "' OR 1=1 --", "<script>@x.com"):
        assert parse_contact(bad) is None, bad
    assert Contact("phone", "13800138000").masked == "138****8000"
    assert Contact("email", "wang@example.com").masked == "w***@example.com"


def _start(client: TestClient, sender: Sender, contact: str, **body):
    return client.post(START, json={"contact": contact, **body}, headers=sender.headers)


def _confirm(client: TestClient, sender: Sender, code: str):
    return client.post(CONFIRM, json={"code": code}, headers=sender.headers)


def _identify(client: TestClient, sender: Sender) -> dict:
    response = client.post(IDENTIFY, json={}, headers=sender.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_code_by_phone_verifies_the_chat_account(outbox_app, customer, caplog):
    client, settings = outbox_app
    sender = _sender(settings)
    # The follower wrote before: that conversation becomes the customer's too.
    with client.app.state.session_factory() as session:
        earlier = Conversation(
            sender_id=f"wechat:{sender.open_id}", channel="wechat", status=ConversationStatus.BOT
        )
        session.add(earlier)
        session.commit()
        earlier_id = earlier.id
    caplog.set_level(logging.DEBUG)
    typed = "0086-" + customer["phone"][4:].replace(" ", "-")  # typed another way
    started = _start(client, sender, typed, language="en")
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["status"] == "sent"
    assert body["masked_contact"].endswith(customer["phone"][-4:])
    assert "****" in body["masked_contact"]
    [code] = _codes(settings, customer["phone"])
    assert code not in caplog.text  # never logged

    # not verified before the code is typed, and no order for this chat account yet
    assert _identify(client, sender)["verified"] is False
    order_url = f"/api/v1/orders/{customer['order']}"
    assert client.get(order_url, headers=sender.headers).status_code == 404
    done = _confirm(client, sender, f" {code[:3]} {code[3:]} ")
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] == "verified"
    assert result["identity"]["customer_id"] == customer["id"]
    assert result["identity"]["method"] == "channel_identity"
    assert result["identity"]["external_id"] == sender.open_id
    identified = _identify(client, sender)
    assert identified["verified"] is True and identified["customer_id"] == customer["id"]
    # the order look-up the bot makes for this chat account's messages now answers
    order = client.get(order_url, headers=sender.headers)
    assert order.status_code == 200, order.text
    # the code is used up
    assert _confirm(client, sender, code).json()["status"] == "no_pending"
    with client.app.state.session_factory() as session:
        row = session.scalars(
            select(IdentityVerification).where(IdentityVerification.sender_id == sender.open_id)
        ).one()
        assert row.channel == "wechat"  # the chat account: channel and plain OpenID
        assert row.status == "verified" and code not in row.code_hash
        assert customer["phone"] not in row.contact_key
        identity = session.scalars(
            select(CustomerIdentity).where(CustomerIdentity.external_id == sender.open_id)
        ).one()
        assert (identity.channel, identity.customer_id, identity.verified) == (
            "wechat",
            customer["id"],
            True,
        )
        assert session.get(Conversation, earlier_id).customer_id == customer["id"]
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.action.like("verification_%"))
        ).all()
        assert {"verification_start", "verification_confirm"} <= set(actions)


def test_a_code_is_checked_only_for_the_account_that_asked(outbox_app, customer):
    client, settings = outbox_app
    asked, other = _sender(settings), _sender(settings)
    assert _start(client, asked, customer["email"]).json()["status"] == "sent"
    [code] = _codes(settings, customer["email"])
    # Another follower who learnt the code cannot take the account with it.
    assert _confirm(client, other, code).json()["status"] == "no_pending"
    assert _identify(client, other)["verified"] is False
    assert _confirm(client, asked, code).json()["status"] == "verified"


def test_channels_that_prove_no_sender_get_no_code(outbox_app, customer):
    client, settings = outbox_app
    before = sorted(settings.CODE_OUTBOX_DIR.glob("*.json"))
    for channel in ("rest", "callback"):
        # Rasa proves no platform id for these: anyone can name any sender there.
        conversation = f"{channel}:o-{uuid.uuid4().hex[:16]}"
        headers = {PROOF_HEADER: proof(settings, conversation)}
        started = client.post(START, json={"contact": customer["email"]}, headers=headers)
        assert started.status_code == 200, started.text
        assert started.json()["status"] == "not_provable"
        assert started.json()["masked_contact"] is None
        confirmed = client.post(CONFIRM, json={"code": "123456"}, headers=headers)
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "not_provable"
        assert confirmed.json()["identity"] is None
    assert sorted(settings.CODE_OUTBOX_DIR.glob("*.json")) == before


def test_proofs_are_required_and_must_hold(outbox_app, customer):
    client, settings = outbox_app
    open_id = f"o-{uuid.uuid4().hex[:16]}"
    conversation = f"wechat:{open_id}"
    body = {"contact": customer["email"]}
    refused = {
        "no proof": {},
        "expired": {PROOF_HEADER: proof(settings, conversation, platform_id=open_id, age=EXPIRED)},
        "another key": {
            PROOF_HEADER: proof(settings, conversation, platform_id=open_id, key=FORGED_KEY)
        },
    }
    for why, headers in refused.items():
        for url, payload in ((START, body), (CONFIRM, {"code": "123456"})):
            response = client.post(url, json=payload, headers=headers)
            assert response.status_code == 401, (why, url, response.text)
    assert _codes(settings, customer["email"]) == []
    # The full key without a proof: the chat account is not named anywhere else.
    full = {"X-API-Key": settings.api_key.get_secret_value()}
    assert client.post(START, json=body, headers=full).status_code == 400
    # The old body naming the account is refused, not believed.
    named = {"channel": "wechat", "sender_id": open_id, **body}
    response = client.post(START, json=named, headers=_sender(settings).headers)
    assert response.status_code == 422


def test_code_by_email_in_chinese(outbox_app, customer):
    client, settings = outbox_app
    sender = _sender(settings)
    started = _start(client, sender, customer["email"].upper())
    assert started.json()["status"] == "sent"
    folder = settings.CODE_OUTBOX_DIR
    message = json.loads(sorted(folder.glob("*.json"))[-1].read_text())
    assert message["kind"] == "email" and message["subject"] == "您的验证码"
    [code] = _codes(settings, customer["email"])
    assert _confirm(client, sender, code).json()["status"] == "verified"


def test_unknown_contact_gets_the_same_answer_and_no_code(outbox_app):
    client, settings = outbox_app
    before = len(list(settings.CODE_OUTBOX_DIR.glob("*.json")))
    sender = _sender(settings)
    started = _start(client, sender, "nobody.here@example.org")
    assert started.status_code == 200
    assert started.json()["status"] == "sent"
    assert started.json()["masked_contact"] == "n***@example.org"
    assert len(list(settings.CODE_OUTBOX_DIR.glob("*.json"))) == before
    # no code can be right
    assert _confirm(client, sender, "000000").json()["status"] == "wrong_code"


def test_wrong_codes_then_locked(outbox_app, customer):
    client, settings = outbox_app
    sender = _sender(settings)
    _start(client, sender, customer["email"])
    [code] = _codes(settings, customer["email"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    lefts = [_confirm(client, sender, wrong).json() for _ in range(settings.VERIFY_MAX_ATTEMPTS)]
    assert [r["attempts_left"] for r in lefts] == [4, 3, 2, 1, 0]
    assert lefts[-1]["status"] == "too_many_attempts"
    # the right code no longer works: a new one must be asked for
    assert _confirm(client, sender, code).json()["status"] == "no_pending"
    assert _identify(client, sender)["verified"] is False


def test_expired_code(outbox_app, customer):
    client, settings = outbox_app
    sender = _sender(settings)
    _start(client, sender, customer["email"])
    [code] = _codes(settings, customer["email"])
    with client.app.state.session_factory() as session:
        session.execute(
            update(IdentityVerification)
            .where(IdentityVerification.sender_id == sender.open_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    assert _confirm(client, sender, code).json()["status"] == "expired"


def test_new_code_voids_the_previous_one(outbox_app, customer):
    client, settings = outbox_app
    sender = _sender(settings)
    _start(client, sender, customer["email"])
    _start(client, sender, customer["email"])
    first, second = _codes(settings, customer["email"])
    if first != second:
        assert _confirm(client, sender, first).json()["status"] in {"wrong_code"}
    assert _confirm(client, sender, second).json()["status"] == "verified"


def test_rate_limited_per_contact_and_per_account(outbox_app, customer):
    client, settings = outbox_app
    for _ in range(settings.VERIFY_MAX_PER_HOUR):  # a different chat account each time
        answer = _start(client, _sender(settings), customer["email"])
        assert answer.status_code == 200
    limited = _start(client, _sender(settings), customer["email"])
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited" and "try again" in limited.json()["detail"]
    assert limited.headers["Retry-After"] == "3600"
    assert len(_codes(settings, customer["email"])) == settings.VERIFY_MAX_PER_HOUR

    sender = _sender(settings)  # one chat account probing many contacts
    answers = [
        _start(client, sender, f"p{n}@example.net").status_code
        for n in range(settings.VERIFY_MAX_PER_HOUR + 1)
    ]
    assert answers[-1] == 429 and set(answers[:-1]) == {200}


def test_account_owned_by_another_customer_is_not_moved(outbox_app, customer):
    client, settings = outbox_app
    sender = _sender(settings)
    with client.app.state.session_factory() as session:
        make_customer(session, identities=[(sender.channel, sender.open_id, True)])
        session.commit()
    _start(client, sender, customer["email"])
    [code] = _codes(settings, customer["email"])
    assert _confirm(client, sender, code).json()["status"] == "taken"
    with client.app.state.session_factory() as session:
        owner = session.scalars(
            select(CustomerIdentity.customer_id).where(
                CustomerIdentity.external_id == sender.open_id
            )
        ).one()
        assert owner != customer["id"]


@pytest.mark.parametrize(
    "contact",
    ["not a phone", "1" * 40, "x@y"],
)
def test_invalid_contact(outbox_app, contact):
    client, settings = outbox_app
    answer = _start(client, _sender(settings), contact)
    assert answer.status_code == 200 and answer.json()["status"] == "invalid_contact"


def test_edge_validation_and_auth(outbox_app):
    client, settings = outbox_app
    sender = _sender(settings)
    assert _start(client, sender, "a" * 400).status_code == 422
    assert _start(client, sender, "a@b.cn", extra=1).status_code == 422
    assert _start(client, sender, "a@b.cn", language="fr").status_code == 422
    assert _confirm(client, sender, "1" * 30).status_code == 422
    assert _confirm(client, sender, "").status_code == 422
    wrong_key = {**sender.headers, "X-API-Key": "wrong"}
    anonymous = client.post(START, json={"contact": "a@b.cn"}, headers=wrong_key)
    assert anonymous.status_code == 401


def test_without_any_delivery_the_bot_is_told_unavailable(api_database_url, tmp_path):
    for client, settings in _app(api_database_url, tmp_path):
        answer = _start(client, _sender(settings), "a@b.cn")
        assert answer.status_code == 200 and answer.json()["status"] == "unavailable"


class _SmsGateway:
    """A local SMS provider webhook that records what it was asked to send."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[tuple[str, dict]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                gateway.received.append((self.headers.get("Authorization", ""), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope)
        return "250 OK"


def test_sms_gateway_and_smtp_server(api_database_url, tmp_path):
    mailbox = _Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    gateway = _SmsGateway()
    try:
        settings = {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": smtp.port,
            "SMTP_STARTTLS": False,
            "SMTP_FROM": "service@shop.example",
            "SMS_WEBHOOK_URL": gateway.url,
            "SMS_WEBHOOK_TOKEN": "sms-secret",
        }
        for client, config in _app(api_database_url, tmp_path, **settings):
            n = uuid.uuid4().int % 10**8
            with client.app.state.session_factory() as session:
                made = make_customer(session, email=f"mail{n}@shop.example", phone=f"139{n:08d}")
                session.commit()
                address, phone = made.email, made.phone
            phone_sender, mail_sender = _sender(config), _sender(config)
            assert _start(client, phone_sender, phone).status_code == 200
            assert _start(client, mail_sender, address).status_code == 200
            [(auth, sms)] = gateway.received
            assert auth == "Bearer sms-secret" and sms["to"] == phone
            sms_code = re.search(r"\d{6}", sms["text"]).group()
            [envelope] = mailbox.messages
            assert envelope.rcpt_tos == [address]
            mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert mail["Subject"] == "您的验证码" and mail["From"] == "service@shop.example"
            mail_code = re.search(r"\d{6}", mail.get_content()).group()
            for sender, code in ((phone_sender, sms_code), (mail_sender, mail_code)):
                answer = _confirm(client, sender, code).json()
                assert answer["status"] == "verified"
    finally:
        smtp.stop()
        gateway.close()


def test_gateway_failure_is_a_clear_503(api_database_url, tmp_path):
    gateway = _SmsGateway(status=500)
    try:
        for client, config in _app(api_database_url, tmp_path, SMS_WEBHOOK_URL=gateway.url):
            n = uuid.uuid4().int % 10**8
            with client.app.state.session_factory() as session:
                phone = make_customer(session, phone=f"137{n:08d}").phone
                session.commit()
            answer = _start(client, _sender(config), phone)
            assert answer.status_code == 503
            assert "SMS" in answer.json()["detail"]
    finally:
        gateway.close()


def test_the_bots_client_reads_the_limit_as_an_answer(outbox_app, customer):
    """The bot's client (bot/actions) turns the bridge's 429 into status ``rate_limited``."""
    from actions.clients.bridge import BridgeClient
    from actions.config import ActionSettings

    _, settings = outbox_app
    sender = _sender(settings)
    key = settings.bot_api_key.get_secret_value()

    async def ask(url: str, contacts: list[str]) -> list[dict]:
        bot = BridgeClient(
            ActionSettings(BRIDGE_URL=url, BRIDGE_API_KEY=key), proof=sender.headers[PROOF_HEADER]
        )
        return [await bot.start_verification(contact, "zh") for contact in contacts]

    contacts = [f"q{n}@example.net" for n in range(settings.VERIFY_MAX_PER_HOUR + 1)]
    with serve(create_app(settings)) as url:
        answers = asyncio.run(ask(url, contacts))
    assert [a["status"] for a in answers[:-1]] == ["sent"] * settings.VERIFY_MAX_PER_HOUR
    assert answers[-1] == {"status": "rate_limited", "retry_after": 3600}
