"""What the bridge itself tells a customer during a handoff, in their language."""

from __future__ import annotations

NOTICES: dict[str, dict[str, str]] = {
    "agent_joined": {
        "zh": "人工客服{agent}已接入，正在为您服务。",
        "en": "{agent} from our service team has joined the chat.",
    },
    "back_in_queue": {
        "zh": "刚才的客服暂时离开了，您已回到排队中（第 {position} 位），请稍候。",
        "en": "Your agent had to leave; you are back in the queue (number {position}). "
        "Please hold on.",
    },
}


def notice(key: str, language: str | None, **values: object) -> str:
    """The notice ``key`` in ``language`` (Chinese unless English)."""
    texts = NOTICES[key]
    return texts["en" if language == "en" else "zh"].format(**values)
