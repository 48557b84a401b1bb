"""Sending one-time codes: e-mail over SMTP, text messages through an SMS gateway's webhook.

Both are outside systems: a mail server the shop runs or rents, and an SMS provider behind an
HTTP endpoint (most providers, or a small adapter in front of one, take ``{"to", "text"}``).
For development only, codes for a kind of contact with no configured delivery are written to
``CODE_OUTBOX_DIR`` (one JSON file each), so the embedded system works end to end with no
mail server. Codes never go to the log.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import uuid
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Literal

import httpx

from crm_bridge.core.config import Settings
from crm_bridge.models import utcnow

logger = logging.getLogger(__name__)

ContactKind = Literal["phone", "email"]
TIMEOUT = 10.0


class DeliveryError(RuntimeError):
    """The code could not be handed to the mail server or SMS gateway; the message says why."""


@dataclass(frozen=True)
class CodeMessage:
    """One code on its way to a customer."""

    kind: ContactKind
    to: str
    subject: str
    text: str


def configured_route(settings: Settings, kind: ContactKind) -> str | None:
    """How codes to this kind of contact are sent: ``smtp``, ``sms``, ``outbox`` or None."""
    if kind == "email" and settings.SMTP_HOST:
        return "smtp"
    if kind == "phone" and settings.SMS_WEBHOOK_URL:
        return "sms"
    if settings.CODE_OUTBOX_DIR is not None:
        return "outbox"
    return None


def _smtp(settings: Settings, message: CodeMessage) -> None:
    mail = EmailMessage()
    mail["From"] = settings.SMTP_FROM
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail.set_content(message.text)
    with smtplib.SMTP(settings.SMTP_HOST, settings.SMTP_PORT, timeout=TIMEOUT) as server:
        if settings.SMTP_STARTTLS:
            server.starttls()
        if settings.SMTP_USERNAME:
            password = settings.SMTP_PASSWORD.get_secret_value() if settings.SMTP_PASSWORD else ""
            server.login(settings.SMTP_USERNAME, password)
        server.send_message(mail)


def _sms(settings: Settings, message: CodeMessage) -> None:
    headers = {}
    if settings.SMS_WEBHOOK_TOKEN is not None:
        headers["Authorization"] = f"Bearer {settings.SMS_WEBHOOK_TOKEN.get_secret_value()}"
    response = httpx.post(
        settings.SMS_WEBHOOK_URL,
        json={"to": message.to, "text": message.text},
        headers=headers,
        timeout=TIMEOUT,
    )
    response.raise_for_status()


def _outbox(settings: Settings, message: CodeMessage) -> None:
    folder = settings.CODE_OUTBOX_DIR
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow().strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.json"
    path = folder / name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(asdict(message), out, ensure_ascii=False)


def deliver(settings: Settings, message: CodeMessage) -> str:
    """Send ``message`` by its configured route; return the route's name.

    Raises:
        DeliveryError: no route is configured, or the mail server / gateway refused.
    """
    route = configured_route(settings, message.kind)
    senders = {"smtp": _smtp, "sms": _sms, "outbox": _outbox}
    if route is None:
        raise DeliveryError(f"no delivery configured for {message.kind} codes")
    try:
        senders[route](settings, message)
    except (OSError, smtplib.SMTPException, httpx.HTTPError) as err:
        # the class only: an SMTP or HTTP error may echo the recipient or the text
        raise DeliveryError(f"{route} delivery failed: {err.__class__.__name__}") from err
    logger.info("verification code sent", extra={"route": route, "kind": message.kind})
    return route
