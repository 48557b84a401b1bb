"""Identity proofs: what a message proved about its sender, signed by the Rasa server.

A proof is a JWT (HS256) signed with a key only Rasa and the CRM bridge hold
(``var/secrets/identity_proof_key``); the action server passes it on without being able to
make one. Its claims:

- ``sub``: the conversation key (``wechat:o6_b…``), ``ch``: the input channel;
- ``pid``: the sender's platform id, only from channels that authenticate their senders;
- ``site``: the shop's user id, only when the widget channel checked the shop's signature of
  it on this message;
- ``iat`` / ``exp``: issued now, valid for :data:`TTL_SECONDS` (the actions of a message run
  within seconds; the proof stays in the tracker, useless once expired and bound to one
  conversation).

The bridge's ``crm_bridge/core/proofs.py`` checks them (issuer, audience, expiry, the key);
``tests/bot/test_proofs.py`` checks that the two agree.
"""

from __future__ import annotations

import time

import jwt

METADATA_KEY = "csa_proof"
ISSUER = "csa-rasa"
AUDIENCE = "csa-bridge"
ALGORITHM = "HS256"
TTL_SECONDS = 900


def issue(
    key: str,
    *,
    conversation: str,
    channel: str,
    platform_id: str | None = None,
    site_user: str | None = None,
    now: float | None = None,
) -> str:
    """A proof for one message of ``conversation``."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": conversation,
        "ch": channel,
        "iat": issued,
        "exp": issued + TTL_SECONDS,
    }
    if platform_id:
        claims["pid"] = platform_id
    if site_user:
        claims["site"] = site_user
    return jwt.encode(claims, key, algorithm=ALGORITHM)
