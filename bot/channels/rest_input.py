"""Rasa's REST and callback channels, apologising on failure and checking what clients send.

Rasa's own ``rest`` channel answers ``[]`` when handling fails (tracker store down, …);
this one answers the apology of :mod:`channels.outage` in the customer's language instead.
Same name, URL, request and answer format.

Both channels check each request before Rasa sees it (:mod:`channels.edge`): a body that is
no JSON object, a missing sender, a message that is no string or longer than 2,000
characters, metadata that is no small JSON object get a 400 or 413 with
``{"error": "<what is wrong and what to do>"}``, and nothing is stored. The input channel is
always the channel's own name: a client cannot claim to write from another channel, and the
conversation is keyed ``rest:<sender>`` (:mod:`channels.keys`), so a sender id taken from
another channel names a different conversation. Requests are rate-limited per client address
and per conversation (:mod:`channels.rate_limits`; 429 with ``Retry-After``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.callback import CallbackInput as RasaCallbackInput
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.edge import Refusal, check_message, parse_body
from channels.keys import qualify
from channels.outage import answering
from channels.rate_limits import RateLimits, client_address, trusted_proxies_from

logger = logging.getLogger(__name__)


TOO_MANY = (
    "too many messages from this address or for this conversation; wait a minute and retry "
    "(rate limits: CSA_RATE_LIMITS)"
)


def door_options(credentials: dict[str, Any] | None) -> tuple[RateLimits, frozenset[str]]:
    """Rate limits and trusted proxies of a channel from its ``credentials.yml`` entry."""
    credentials = credentials or {}
    limits = RateLimits.from_settings(
        str(credentials.get("rate_limits") or ""), str(credentials.get("state_url") or "")
    )
    return limits, trusted_proxies_from(credentials.get("trusted_proxies"))


class CheckedRequests:
    """Mixin for Rasa's REST-style channels: refuse bad requests, read only checked values."""

    limits: RateLimits | None = None
    trusted_proxies: frozenset[str] = frozenset()

    def checked(self, webhook: Blueprint) -> Blueprint:
        """``webhook`` with every POST to ``/webhook`` checked first."""

        async def check(request: Request) -> HTTPResponse | None:
            if request.method != "POST" or not request.path.endswith("/webhook"):
                return None
            try:
                data = parse_body(request.body or b"")
                request.ctx.message = check_message(
                    data.get("sender"), data.get("message"), data.get("metadata")
                )
            except Refusal as refusal:
                logger.info("%s: request refused (%s)", self.name(), refusal.detail)
                return response.json({"error": refusal.detail}, status=refusal.status)
            if self.limits is not None:
                address = client_address(
                    request.ip or "",
                    request.headers.get("x-forwarded-for", ""),
                    self.trusted_proxies,
                )
                conversation = qualify(self.name(), request.ctx.message.sender)
                if not (
                    await self.limits.allow("ip", address)
                    and await self.limits.allow("conversation", conversation)
                ):
                    logger.info("%s: request refused (rate limit)", self.name())
                    return response.json(
                        {"error": TOO_MANY}, status=429, headers={"Retry-After": "60"}
                    )
            return None

        webhook.middleware(check, "request")
        return webhook

    async def _extract_sender(self, req: Request) -> str:
        return req.ctx.message.sender

    def _extract_message(self, req: Request) -> str:
        return req.ctx.message.text

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        """The checked metadata of the message."""
        return request.ctx.message.metadata

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's blueprint, requests checked, around a handler that apologises on failure."""
        return self.checked(super().blueprint(answering(on_new_message)))  # type: ignore[misc]


class RestInput(CheckedRequests, RasaRestInput):
    """``rest`` with checked requests and an apology instead of ``[]`` when handling fails."""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestInput:
        """``rate_limits``, ``state_url`` and ``trusted_proxies`` from ``credentials.yml``."""
        channel = cls()
        channel.limits, channel.trusted_proxies = door_options(credentials)
        return channel

    @classmethod
    def name(cls) -> str:
        """Keep Rasa's URL: ``/webhooks/rest/webhook``."""
        return "rest"


class CallbackInput(CheckedRequests, RasaCallbackInput):
    """Rasa's ``callback`` channel (replies POSTed to an integrator's URL), requests checked."""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> CallbackInput:
        """Rasa's ``url``, plus the limits and proxies of :func:`door_options`."""
        channel = super().from_credentials(credentials)
        assert isinstance(channel, CallbackInput)
        channel.limits, channel.trusted_proxies = door_options(credentials)
        return channel

    @classmethod
    def name(cls) -> str:
        """Keep Rasa's URL: ``/webhooks/callback/webhook``."""
        return "callback"
