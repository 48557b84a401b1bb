"""Identity proofs from Rasa: what one customer message proved about its sender.

Rasa signs a proof for every message it receives (``bot/channels/proofs.py``, which documents
the claims) with the key this module checks against. The bot's key reaches customer data
only through a proof: the customer a proof names (the shop's signed-in user, or a platform
identity the CRM has verified) is the only one the bot may read, and a proof names exactly
one conversation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ISSUER = "csa-rasa"
AUDIENCE = "csa-bridge"
ALGORITHM = "HS256"
PROOF_HEADER = "X-Identity-Proof"
"""Header the bot sends a message's proof in (read routes: orders, loyalty)."""


class ProofRejected(ValueError):
    """A proof that does not hold; the message says why (safe to log and to answer)."""


@dataclass(frozen=True)
class Proof:
    """What a message proved."""

    conversation: str
    """The conversation key, ``<channel>:<sender>``."""
    channel: str
    platform_id: str | None = None
    """The sender's id on a channel that authenticates its senders."""
    site_user: str | None = None
    """The shop's user id, when the widget checked the shop's signature of it."""
    expired: bool = False
    """Past its expiry (accepted only where ``check_expiry=False``)."""


def verify(token: str, keys: list[str], *, check_expiry: bool = True) -> Proof:
    """The proof ``token`` carries, signed with one of ``keys``.

    ``check_expiry=False`` accepts an expired proof (writes bound to a conversation, such as
    a handoff opened when an agent closes a chat long after the customer's last message).

    Raises:
        ProofRejected: forged, malformed, for another audience, or expired.
    """
    problem = "no key to check proofs with"
    for key in filter(None, keys):
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["sub", "exp", "iat"], "verify_exp": check_expiry},
            )
        except jwt.InvalidSignatureError:
            problem = "signature does not match"
            continue
        except jwt.ExpiredSignatureError:
            raise ProofRejected("identity proof expired") from None
        except jwt.InvalidTokenError as err:
            raise ProofRejected(f"identity proof invalid ({err.__class__.__name__})") from None
        conversation, channel = claims.get("sub"), claims.get("ch")
        if not isinstance(conversation, str) or not isinstance(channel, str):
            raise ProofRejected("identity proof without conversation or channel")
        if not conversation.startswith(f"{channel}:"):
            raise ProofRejected("identity proof names another channel's conversation")
        pid, site = claims.get("pid"), claims.get("site")
        return Proof(
            conversation=conversation,
            channel=channel,
            platform_id=pid if isinstance(pid, str) and pid else None,
            site_user=site if isinstance(site, str) and site else None,
            expired=float(claims["exp"]) < time.time(),
        )
    raise ProofRejected(f"identity proof not accepted: {problem}")
