"""An agent's reply signed with the agent's name, so it reads well in any client.

The bridge sends an agent's reply through Rasa's API as a bot message whose metadata names
the agent (``{"agent": {"id": …, "name": "李娜"}}``). Our widget shows the name from the
metadata; WeChat, WeCom, rasa-webchat and every client that ignores metadata showed the words
as if the bot had written them. On the way out, such a message's text becomes
``李娜：您好…`` (``Li Na: Hello…`` when the reply is English), and the words alone stay in the
metadata (``agent.text``) for clients that show the name themselves. The tracker and the CRM
keep the words as the agent wrote them. Handoff notices already name the agent in their text.
"""

from __future__ import annotations

from typing import Any

from components.language import EN, detect_language


def signed(name: str, text: str) -> str:
    """``李娜：text`` or ``Li Na: text`` (the colon of the reply's language)."""
    colon = ": " if detect_language(text) == EN else "："
    return f"{name}{colon}{text}"


def standalone(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` with an agent's reply signed (other messages as they are)."""
    agent, text = message.get("agent"), message.get("text")
    if not (isinstance(agent, dict) and isinstance(text, str) and text.strip()):
        return message
    name = agent.get("name")
    if not isinstance(name, str) or not name.strip():
        return message
    return {**message, "text": signed(name.strip(), text), "agent": {**agent, "text": text}}


def signed_output(output: Any) -> Any:
    """``output`` whose ``send_response`` signs agents' replies (idempotent, in place)."""
    if output is None or getattr(output, "_csa_signed", False):
        return output
    send = output.send_response

    async def send_response(recipient_id: str, message: dict[str, Any]) -> None:
        await send(recipient_id, standalone(message))

    output.send_response = send_response
    output._csa_signed = True
    return output
