"""How logs name a conversation: its channel and a short digest of its key.

Conversation keys hold personal data (WeChat OpenIDs, widget session ids); a log line gets a
stable pseudonym instead (``wechat#3f2a9c1b07de``) that still lets an operator follow one
conversation through the logs of every process (the CRM bridge uses the same digest).
"""

from __future__ import annotations

import hashlib


def log_id(key: str | None) -> str:
    """The pseudonym of conversation ``key`` for log lines."""
    if not key:
        return "-"
    channel, separator, _sender = key.partition(":")
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{channel if separator else '?'}#{digest}"
