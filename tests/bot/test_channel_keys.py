"""Conversation keys qualified by channel, and the proof each message carries.

``channels.keys.prepare`` runs on every message of every channel (the services env imports it
without Rasa: a message is anything with Rasa's ``UserMessage`` attributes). The Rasa side of
it, that ``install`` puts it between every channel and Rasa, is checked against the real
server in tests/e2e/test_security.py.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from channels import keys, proofs

from crm_bridge.core.proofs import ProofRejected, verify

KEY = "proof-key-for-tests-0123456789abcdef"  # 32+ bytes, as the generated ones


class Output:
    """An output channel that records whom it sent to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent.append((recipient_id, message))


def _message(channel: str, sender: str, metadata: dict[str, Any] | None = None) -> Any:
    return SimpleNamespace(
        input_channel=channel, sender_id=sender, metadata=metadata, output_channel=Output()
    )


@pytest.fixture(autouse=True)
def _proof_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(keys.PROOF_KEY_VARIABLE, KEY)
    keys._proof_key.cache_clear()
    yield
    keys._proof_key.cache_clear()


def test_each_channel_gets_its_own_key():
    assert keys.qualify("rest", "alice") == "rest:alice"
    assert keys.split("wechat:o6_b:x") == ("wechat", "o6_b:x")
    assert keys.split("legacy") == ("", "legacy")
    assert keys.sender_of("socketio:w_1") == "w_1"
    assert keys.sender_of("rest:a", channel="wechat") == "rest:a"


def test_a_rest_client_naming_a_wechat_follower_gets_a_conversation_of_its_own():
    wechat, rest = _message("wechat", "oFollower"), _message("rest", "oFollower")
    keys.prepare(wechat)
    keys.prepare(rest)
    assert (wechat.sender_id, rest.sender_id) == ("wechat:oFollower", "rest:oFollower")
    assert verify(rest.metadata[proofs.METADATA_KEY], [KEY]).platform_id is None
    assert verify(wechat.metadata[proofs.METADATA_KEY], [KEY]).platform_id == "oFollower"


def test_a_client_cannot_bring_its_own_proof_or_site_user():
    forged = proofs.issue(KEY, conversation="wechat:oVictim", channel="wechat", platform_id="oV")
    message = _message(
        "rest",
        "mallory",
        {
            "csa_proof": forged,
            "user_id": "demo-user-1",
            "user_hash": "ab",
            "user_expires": 9,
            "x": 1,
        },
    )
    keys.vouch_site_user(message, "demo-user-1")  # only the widget channel's word counts
    keys.prepare(message)
    assert set(message.metadata) == {"x", proofs.METADATA_KEY}
    proof = verify(message.metadata[proofs.METADATA_KEY], [KEY])
    assert (proof.conversation, proof.site_user, proof.platform_id) == ("rest:mallory", None, None)


def test_the_widget_channel_vouches_for_a_checked_site_user():
    message = _message("socketio", "w_" + "a" * 32, {"user_hash": "dropped"})
    keys.vouch_site_user(message, "demo-user-1")
    keys.prepare(message)
    proof = verify(message.metadata[proofs.METADATA_KEY], [KEY])
    assert proof.site_user == "demo-user-1"
    assert proof.platform_id == "w_" + "a" * 32
    assert "user_hash" not in message.metadata


def test_replies_go_out_with_the_plain_sender_id():
    message = _message("wechat", "oFollower")
    keys.prepare(message)
    asyncio.run(message.output_channel.send_response(message.sender_id, {"text": "hi"}))
    keyed_twice = keys.keyed_output(message.output_channel)  # idempotent
    asyncio.run(keyed_twice.send_response("wechat:oFollower", {"text": "again"}))
    assert [to for to, _ in message.output_channel.sent] == ["oFollower", "oFollower"]


def test_without_a_proof_key_messages_carry_no_proof(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(keys.PROOF_KEY_VARIABLE, "")
    keys._proof_key.cache_clear()
    message = _message("socketio", "w_" + "b" * 32)
    keys.prepare(message)
    assert proofs.METADATA_KEY not in message.metadata  # the bridge then reveals nothing


def test_a_proof_signed_with_another_key_is_refused():
    message = _message("wechat", "oFollower")
    keys.prepare(message)
    with pytest.raises(ProofRejected, match="signature"):
        verify(message.metadata[proofs.METADATA_KEY], ["another-key-of-thirty-two-bytes-xx"])
