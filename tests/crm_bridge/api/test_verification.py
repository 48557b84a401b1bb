"""Chat-account verification by one-time code, on SQLite and PostgreSQL.

Delivery goes to real endpoints: the development outbox (files), a real SMTP server
(aiosmtpd, standing in for the shop's mail server) and a local SMS gateway webhook.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from crm_bridge.core.config import Settings
from crm_bridge.main import create_app
from crm_bridge.models import AuditLog, CustomerIdentity, IdentityVerification, utcnow
from crm_bridge.services.verification import Contact, parse_contact
from tests.utils.factories import make_customer, make_order
from tests.utils.processes import free_port

START = "/api/v1/bot/verification"
CONFIRM = "/api/v1/bot/verification/confirm"
IDENTIFY = "/api/v1/bot/identify"


def _app(database_url: str, var: Path, **settings) -> Iterator[tuple[TestClient, Settings]]:
    config = Settings(VAR_DIR=var, DATABASE_URL=database_url, EVENTS_SOURCE="none", **settings)
    with TestClient(create_app(config)) as client:
        client.headers["X-API-Key"] = config.api_key.get_secret_value()
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


def _sender() -> dict[str, str]:
    return {"channel": "wechat", "sender_id": f"o-{uuid.uuid4().hex[:16]}"}


def test_contacts_are_normalised():
    assert parse_contact("+86 138-0013-8000") == Contact("phone", "13800138000")
    assert parse_contact("0086 13800138000") == Contact("phone", "13800138000")
    assert parse_contact(" Wang@Example.COM ") == Contact("email", "wang@example.com")
    assert parse_contact("+44 20 7946 0958") == Contact("phone", "442079460958")
    for bad in ("hello", "12", "a@b", "1380013800O", "' OR 1=1 --", "<script>@x.com"):
        assert parse_contact(bad) is None, bad
    assert Contact("phone", "13800138000").masked == "138****8000"
    assert Contact("email", "wang@example.com").masked == "w***@example.com"


def test_code_by_phone_verifies_the_chat_account(outbox_app, customer, caplog):
    client, settings = outbox_app
    sender = _sender()
    caplog.set_level(logging.DEBUG)
    typed = "0086-" + customer["phone"][4:].replace(" ", "-")  # typed another way
    started = client.post(START, json={**sender, "contact": typed, "language": "en"})
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["status"] == "sent"
    assert body["masked_contact"].endswith(customer["phone"][-4:])
    assert "****" in body["masked_contact"]
    [code] = _codes(settings, customer["phone"])
    assert code not in caplog.text  # never logged

    # not verified before the code is typed
    assert client.post(IDENTIFY, json=sender).json()["verified"] is False
    done = client.post(CONFIRM, json={**sender, "code": f" {code[:3]} {code[3:]} "})
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] == "verified"
    assert result["identity"]["customer_id"] == customer["id"]
    assert result["identity"]["method"] == "channel_identity"
    identified = client.post(IDENTIFY, json=sender).json()
    assert identified["verified"] is True and identified["customer_id"] == customer["id"]
    # the order look-up the bot makes now answers for this chat account
    order = client.get(
        f"/api/v1/orders/{customer['order']}",
        params={"channel": sender["channel"], "external_id": sender["sender_id"]},
    )
    assert order.status_code == 200, order.text
    # the code is used up
    again = client.post(CONFIRM, json={**sender, "code": code}).json()
    assert again["status"] == "no_pending"
    with client.app.state.session_factory() as session:
        row = session.scalars(
            select(IdentityVerification).where(
                IdentityVerification.sender_id == sender["sender_id"]
            )
        ).one()
        assert row.status == "verified" and code not in row.code_hash
        assert customer["phone"] not in row.contact_key
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.action.like("verification_%"))
        ).all()
        assert {"verification_start", "verification_confirm"} <= set(actions)


def test_code_by_email_in_chinese(outbox_app, customer):
    client, settings = outbox_app
    sender = _sender()
    started = client.post(START, json={**sender, "contact": customer["email"].upper()})
    assert started.json()["status"] == "sent"
    folder = settings.CODE_OUTBOX_DIR
    message = json.loads(sorted(folder.glob("*.json"))[-1].read_text())
    assert message["kind"] == "email" and message["subject"] == "您的验证码"
    [code] = _codes(settings, customer["email"])
    assert client.post(CONFIRM, json={**sender, "code": code}).json()["status"] == "verified"


def test_unknown_contact_gets_the_same_answer_and_no_code(outbox_app):
    client, settings = outbox_app
    before = len(list(settings.CODE_OUTBOX_DIR.glob("*.json")))
    sender = _sender()
    started = client.post(START, json={**sender, "contact": "nobody.here@example.org"})
    assert started.status_code == 200
    assert started.json()["status"] == "sent"
    assert started.json()["masked_contact"] == "n***@example.org"
    assert len(list(settings.CODE_OUTBOX_DIR.glob("*.json"))) == before
    # no code can be right
    assert client.post(CONFIRM, json={**sender, "code": "000000"}).json()["status"] == "wrong_code"


def test_wrong_codes_then_locked(outbox_app, customer):
    client, settings = outbox_app
    sender = _sender()
    client.post(START, json={**sender, "contact": customer["email"]})
    [code] = _codes(settings, customer["email"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    lefts = [
        client.post(CONFIRM, json={**sender, "code": wrong}).json()
        for _ in range(settings.VERIFY_MAX_ATTEMPTS)
    ]
    assert [r["attempts_left"] for r in lefts] == [4, 3, 2, 1, 0]
    assert lefts[-1]["status"] == "too_many_attempts"
    # the right code no longer works: a new one must be asked for
    assert client.post(CONFIRM, json={**sender, "code": code}).json()["status"] == "no_pending"
    assert client.post(IDENTIFY, json=sender).json()["verified"] is False


def test_expired_code(outbox_app, customer):
    client, settings = outbox_app
    sender = _sender()
    client.post(START, json={**sender, "contact": customer["email"]})
    [code] = _codes(settings, customer["email"])
    with client.app.state.session_factory() as session:
        session.execute(
            update(IdentityVerification)
            .where(IdentityVerification.sender_id == sender["sender_id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    assert client.post(CONFIRM, json={**sender, "code": code}).json()["status"] == "expired"


def test_new_code_voids_the_previous_one(outbox_app, customer):
    client, settings = outbox_app
    sender = _sender()
    client.post(START, json={**sender, "contact": customer["email"]})
    client.post(START, json={**sender, "contact": customer["email"]})
    first, second = _codes(settings, customer["email"])
    if first != second:
        assert client.post(CONFIRM, json={**sender, "code": first}).json()["status"] in {
            "wrong_code"
        }
    assert client.post(CONFIRM, json={**sender, "code": second}).json()["status"] == "verified"


def test_rate_limited_per_contact_and_per_account(outbox_app, customer):
    client, settings = outbox_app
    for _ in range(settings.VERIFY_MAX_PER_HOUR):  # a different chat account each time
        answer = client.post(START, json={**_sender(), "contact": customer["email"]})
        assert answer.status_code == 200
    limited = client.post(START, json={**_sender(), "contact": customer["email"]})
    assert limited.status_code == 429
    assert limited.json()["status"] == "rate_limited"
    assert limited.headers["Retry-After"] == "3600"
    assert len(_codes(settings, customer["email"])) == settings.VERIFY_MAX_PER_HOUR

    sender = _sender()  # one chat account probing many contacts
    answers = [
        client.post(START, json={**sender, "contact": f"p{n}@example.net"}).status_code
        for n in range(settings.VERIFY_MAX_PER_HOUR + 1)
    ]
    assert answers[-1] == 429 and set(answers[:-1]) == {200}


def test_account_owned_by_another_customer_is_not_moved(outbox_app, customer):
    client, settings = outbox_app
    sender = _sender()
    with client.app.state.session_factory() as session:
        make_customer(session, identities=[(sender["channel"], sender["sender_id"], True)])
        session.commit()
    client.post(START, json={**sender, "contact": customer["email"]})
    [code] = _codes(settings, customer["email"])
    assert client.post(CONFIRM, json={**sender, "code": code}).json()["status"] == "taken"
    with client.app.state.session_factory() as session:
        owner = session.scalars(
            select(CustomerIdentity.customer_id).where(
                CustomerIdentity.external_id == sender["sender_id"]
            )
        ).one()
        assert owner != customer["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"contact": "not a phone"},
        {"contact": "1" * 40},
        {"contact": "x@y"},
    ],
)
def test_invalid_contact(client, body):
    answer = client.post(START, json={**_sender(), **body})
    assert answer.status_code == 200 and answer.json()["status"] == "invalid_contact"


def test_edge_validation_and_auth(client):
    assert client.post(START, json={**_sender(), "contact": "a" * 400}).status_code == 422
    extra = {**_sender(), "contact": "a@b.cn", "extra": 1}
    assert client.post(START, json=extra).status_code == 422
    assert client.post(CONFIRM, json={**_sender(), "code": "1" * 30}).status_code == 422
    anonymous = client.post(
        START, json={**_sender(), "contact": "a@b.cn"}, headers={"X-API-Key": "wrong"}
    )
    assert anonymous.status_code == 401


def test_without_any_delivery_the_bot_is_told_unavailable(api_database_url, tmp_path):
    for client, _ in _app(api_database_url, tmp_path):
        answer = client.post(START, json={**_sender(), "contact": "a@b.cn"})
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
        for client, _ in _app(api_database_url, tmp_path, **settings):
            n = uuid.uuid4().int % 10**8
            with client.app.state.session_factory() as session:
                made = make_customer(session, email=f"mail{n}@shop.example", phone=f"139{n:08d}")
                session.commit()
                address, phone = made.email, made.phone
            phone_sender, mail_sender = _sender(), _sender()
            assert client.post(START, json={**phone_sender, "contact": phone}).status_code == 200
            assert client.post(START, json={**mail_sender, "contact": address}).status_code == 200
            [(auth, sms)] = gateway.received
            assert auth == "Bearer sms-secret" and sms["to"] == phone
            sms_code = re.search(r"\d{6}", sms["text"]).group()
            [envelope] = mailbox.messages
            assert envelope.rcpt_tos == [address]
            mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert mail["Subject"] == "您的验证码" and mail["From"] == "service@shop.example"
            mail_code = re.search(r"\d{6}", mail.get_content()).group()
            for sender, code in ((phone_sender, sms_code), (mail_sender, mail_code)):
                answer = client.post(CONFIRM, json={**sender, "code": code}).json()
                assert answer["status"] == "verified"
    finally:
        smtp.stop()
        gateway.close()


def test_gateway_failure_is_a_clear_503(api_database_url, tmp_path):
    gateway = _SmsGateway(status=500)
    try:
        for client, _ in _app(api_database_url, tmp_path, SMS_WEBHOOK_URL=gateway.url):
            n = uuid.uuid4().int % 10**8
            with client.app.state.session_factory() as session:
                phone = make_customer(session, phone=f"137{n:08d}").phone
                session.commit()
            answer = client.post(START, json={**_sender(), "contact": phone})
            assert answer.status_code == 503
            assert "SMS" in answer.json()["detail"]
    finally:
        gateway.close()
