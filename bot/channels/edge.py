"""What a client may send through our text channels (REST, callback, website widget).

Rasa's channels pass on whatever a client posts. Measured against the real server, that hurts:

- a long message stalls Rasa's event loop, and with it every conversation: NLU time grows
  faster than linearly with length (32,000 Chinese characters take 5 s, 1 MB takes many
  minutes); the widget's composer stops at 2,000 characters, WeChat and WeCom messages are cut
  there, so no customer needs more;
- a lone UTF-16 surrogate (an unpaired ``U+D800`` escaped in JSON) makes NLU fail, deeply
  nested metadata (hundreds of levels) makes Rasa recurse to its limit, and metadata that is
  no JSON object breaks Rasa's processing: the customer got the outage apology for their own
  bad input;
- a body that is no JSON object (``[]``, ``null``, empty) made Rasa's REST channel answer 500;
- a missing sender put every such client into one shared ``default`` conversation, and a
  client-chosen ``input_channel`` let a REST caller claim to write from WeChat.

So each message is checked here, before Rasa sees it: the text must be a string of at most
:data:`MAX_TEXT` characters (control characters other than tab and newlines are dropped, lone
surrogates become U+FFFD), the sender a string (or integer) of at most :data:`MAX_SENDER`
printable characters, the metadata absent or a JSON object of at most
:data:`MAX_METADATA_BYTES` and :data:`MAX_METADATA_DEPTH` levels. A refusal says what is
wrong and what to do. Pure Python (no Rasa import), so the services env tests it too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from components.language import detect_language

MAX_TEXT = 2000
"""Characters of one message (the widget's composer, WeChat and WeCom stop there too)."""
MAX_SENDER = 200
"""Characters of a sender id: with its channel prefix (`rest:` …) it fits the 255 of Rasa's
and the CRM's columns."""
MAX_METADATA_BYTES = 16 * 1024
"""Size of a message's metadata as JSON."""
MAX_METADATA_DEPTH = 10
"""Nesting levels of a message's metadata (``{"a": {"b": 1}}`` has two)."""
MAX_BODY = 64 * 1024
"""Bytes of one REST request (a message at its limit with metadata at its limit fits)."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

TOO_LONG = {
    "zh": f"抱歉，这条消息太长了（最多 {MAX_TEXT} 个字）。请删减一些，或分成几条发送。",
    "en": f"Sorry, that message is too long (at most {MAX_TEXT} characters). "
    "Please shorten it or send it in several parts.",
}
UNREADABLE = {
    "zh": "抱歉，没能读懂这条消息。请刷新页面后重新发送。",
    "en": "Sorry, that message could not be read. Please reload the page and send it again.",
}


class Refusal(ValueError):
    """A message refused at the edge: ``status`` and ``detail`` for an API client."""

    def __init__(self, status: int, detail: str, too_long: bool = False) -> None:
        super().__init__(detail)
        self.status, self.detail, self.too_long = status, detail, too_long

    def reply(self, text: Any = None) -> str:
        """The bot's answer to a customer: in their language when it shows, else both."""
        texts = TOO_LONG if self.too_long else UNREADABLE
        language = detect_language(text[:MAX_TEXT]) if isinstance(text, str) else None
        return texts[language] if language in texts else f"{texts['zh']}\n{texts['en']}"


@dataclass(frozen=True)
class CheckedMessage:
    """A message that passed the checks, cleaned."""

    sender: str
    text: str
    metadata: dict[str, Any] | None


def clean_text(text: str) -> str:
    """``text`` without control characters (tab and newlines stay); lone surrogates → U+FFFD."""
    return _CONTROL.sub("", _SURROGATE.sub("\ufffd", text))


def checked_text(value: Any) -> str:
    """The cleaned message text; a :class:`Refusal` when it is no string or too long."""
    if not isinstance(value, str):
        raise Refusal(400, '"message" must be a string (the text the customer typed)')
    text = clean_text(value)
    if len(text) > MAX_TEXT:
        raise Refusal(
            413,
            f'"message" has {len(text)} characters; at most {MAX_TEXT} are accepted: '
            "shorten it or send it in several messages",
            too_long=True,
        )
    return text


def checked_sender(value: Any) -> str:
    """The sender id as a string; a :class:`Refusal` when missing, too long or not printable."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise Refusal(400, '"sender" is required: a string that names the conversation')
    if len(value) > MAX_SENDER or _CONTROL.search(value) or _SURROGATE.search(value):
        raise Refusal(400, f'"sender" must have at most {MAX_SENDER} printable characters')
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests deeper than ``limit`` levels (iterative: no recursion)."""
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    return value


def checked_metadata(value: Any) -> dict[str, Any] | None:
    """The cleaned metadata (None when absent); a :class:`Refusal` unless a small object."""
    if value is None:
        return None
    if isinstance(value, str):  # Rasa's socket.io channel accepts metadata as a JSON string
        if len(value) > MAX_METADATA_BYTES:
            raise Refusal(413, f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise Refusal(400, "metadata is not valid JSON") from None
    if not isinstance(value, dict):
        raise Refusal(400, "metadata must be a JSON object")
    if _depth_exceeds(value, MAX_METADATA_DEPTH):
        raise Refusal(400, f"metadata may nest at most {MAX_METADATA_DEPTH} levels")
    if len(json.dumps(value)) > MAX_METADATA_BYTES:
        raise Refusal(413, f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return _cleaned(value)


def check_message(sender: Any, text: Any, metadata: Any = None) -> CheckedMessage:
    """All checks of one message; raises :class:`Refusal` at the first that fails."""
    return CheckedMessage(checked_sender(sender), checked_text(text), checked_metadata(metadata))


def parse_body(body: bytes) -> dict[str, Any]:
    """A REST request's JSON object; a :class:`Refusal` for anything else."""
    if len(body) > MAX_BODY:
        raise Refusal(413, f"the request body must be at most {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Refusal(400, 'the body must be UTF-8 JSON: {"sender": "…", "message": "…"}') from None
    if not isinstance(data, dict):
        raise Refusal(400, 'the body must be a JSON object: {"sender": "…", "message": "…"}')
    return data
