"""Rasa's REST and callback channels, apologising on failure and checking what clients send.

Rasa's own ``rest`` channel answers ``[]`` when handling fails (tracker store down, …);
this one answers the apology of :mod:`channels.outage` in the customer's language instead.
Same name, URL, request and answer format.

Both channels check each request before Rasa sees it (:mod:`channels.edge`): a body that is
no JSON object, a missing sender, a message that is no string or longer than 2,000
characters, metadata that is no small JSON object get a 400 or 413 with
``{"error": "<what is wrong and what to do>"}``, and nothing is stored. The input channel is
always the channel's own name: a client cannot claim to write from another channel.
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
from channels.outage import answering

logger = logging.getLogger(__name__)


class CheckedRequests:
    """Mixin for Rasa's REST-style channels: refuse bad requests, read only checked values."""

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
    def name(cls) -> str:
        """Keep Rasa's URL: ``/webhooks/rest/webhook``."""
        return "rest"


class CallbackInput(CheckedRequests, RasaCallbackInput):
    """Rasa's ``callback`` channel (replies POSTed to an integrator's URL), requests checked."""

    @classmethod
    def name(cls) -> str:
        """Keep Rasa's URL: ``/webhooks/callback/webhook``."""
        return "callback"
