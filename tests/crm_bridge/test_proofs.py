"""Identity proofs: Rasa issues them (``bot/channels/proofs.py``), the bridge verifies them
(``crm_bridge/core/proofs.py``). Both sides are held to one contract here."""

from __future__ import annotations

import base64
import json
import time
import warnings

import jwt
import pytest
from channels import proofs as rasa_proofs
from channels.proofs import TTL_SECONDS, issue

from actions.clients import bridge as action_client
from crm_bridge.core import conversation_keys
from crm_bridge.core.proofs import (
    ALGORITHM,
    AUDIENCE,
    ISSUER,
    PROOF_HEADER,
    Proof,
    ProofRejected,
    verify,
)

KEY = "identity-proof-key-0123456789abcdef"
OTHER = "another-deployments-key-0123456789ab"


def _claims(**changes) -> dict:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "wechat:o-1",
        "ch": "wechat",
        "pid": "o-1",
        "iat": now,
        "exp": now + TTL_SECONDS,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict, key: str = KEY, algorithm: str = ALGORITHM) -> str:
    with warnings.catch_warnings():  # HS512 with this key: the point is the algorithm
        warnings.simplefilter("ignore")
        return jwt.encode(claims, key, algorithm=algorithm)


def test_both_sides_share_the_constants():
    assert (rasa_proofs.ISSUER, rasa_proofs.AUDIENCE, rasa_proofs.ALGORITHM) == (
        ISSUER,
        AUDIENCE,
        ALGORITHM,
    )
    # The metadata key Rasa stores the proof under, which the action server reads and the
    # bridge's ingestion drops; the header the action server sends it in.
    assert rasa_proofs.METADATA_KEY == conversation_keys.PROOF_METADATA_KEY
    assert action_client.PROOF_METADATA_KEY == rasa_proofs.METADATA_KEY
    assert action_client.PROOF_HEADER == PROOF_HEADER == "X-Identity-Proof"


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        (
            {"conversation": "wechat:o6_b-1", "channel": "wechat", "platform_id": "o6_b-1"},
            Proof(conversation="wechat:o6_b-1", channel="wechat", platform_id="o6_b-1"),
        ),
        (
            {
                "conversation": "socketio:w_" + "a" * 32,
                "channel": "socketio",
                "platform_id": "w_" + "a" * 32,
                "site_user": "用户-1",
            },
            Proof(
                conversation="socketio:w_" + "a" * 32,
                channel="socketio",
                platform_id="w_" + "a" * 32,
                site_user="用户-1",
            ),
        ),
        (
            {"conversation": "rest:alice", "channel": "rest"},
            Proof(conversation="rest:alice", channel="rest"),
        ),
        (  # a sender id that holds the separator itself
            {"conversation": "rest:a:b", "channel": "rest", "platform_id": ""},
            Proof(conversation="rest:a:b", channel="rest"),
        ),
    ],
)
def test_claims_round_trip(claims, expected):
    assert verify(issue(KEY, **claims), [KEY]) == expected


def test_any_of_the_keys_during_a_rotation():
    token = issue(OTHER, conversation="rest:alice", channel="rest")
    assert verify(token, [KEY, OTHER]).conversation == "rest:alice"
    with pytest.raises(ProofRejected, match="signature does not match"):
        verify(token, [KEY])
    with pytest.raises(ProofRejected, match="no key"):
        verify(token, [])


def _tamper(token: str, **changes) -> str:
    """The token with its payload changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    raw = json.dumps(claims, separators=(",", ":")).encode()
    forged = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(issue(OTHER, conversation="wechat:o-1", channel="wechat"), id="wrong-key"),
        pytest.param(_sign(_claims(aud="someone-else")), id="wrong-audience"),
        pytest.param(_sign(_claims(aud=None)), id="no-audience"),
        pytest.param(_sign(_claims(iss="csa-actions")), id="wrong-issuer"),
        pytest.param(_sign(_claims(iss=None)), id="no-issuer"),
        pytest.param(
            _tamper(
                issue(KEY, conversation="wechat:o-1", channel="wechat", platform_id="o-1"),
                pid="o-victim",
            ),
            id="tampered-platform-id",
        ),
        pytest.param(
            _tamper(
                issue(KEY, conversation="rest:o-1", channel="rest"), sub="wechat:o-1", ch="wechat"
            ),
            id="tampered-conversation",
        ),
        pytest.param(
            _tamper(issue(KEY, conversation="socketio:w_1", channel="socketio"), site="vip"),
            id="tampered-site-user",
        ),
        pytest.param(
            issue(KEY, conversation="wechat:o-1", channel="rest"), id="sub-of-another-channel"
        ),
        pytest.param(
            issue(KEY, conversation="wechatx:o-1", channel="wechat"), id="sub-prefix-lookalike"
        ),
        pytest.param(issue(KEY, conversation="o-1", channel="wechat"), id="unqualified-sub"),
        pytest.param(_sign(_claims(ch=None)), id="no-channel"),
        pytest.param(_sign(_claims(sub=None)), id="no-conversation"),
        pytest.param(_sign(_claims(exp=None)), id="no-expiry"),
        pytest.param(_sign(_claims(iat=None)), id="no-issue-time"),
        pytest.param(_sign(_claims(ch=7)), id="channel-not-text"),
        pytest.param(_sign(_claims(), algorithm="HS512"), id="another-algorithm"),
        pytest.param(_sign(_claims(), key="", algorithm="none"), id="unsigned"),
        pytest.param("not.a.jwt", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_proofs_that_do_not_hold_are_rejected(token):
    with pytest.raises(ProofRejected) as refused:
        verify(token, [KEY])
    assert KEY not in str(refused.value)
    # An expiry check does not make any of them acceptable.
    with pytest.raises(ProofRejected):
        verify(token, [KEY], check_expiry=False)


def test_expired_proofs_only_where_expiry_is_not_checked():
    issued = time.time() - TTL_SECONDS - 5
    token = issue(KEY, conversation="wechat:o-1", channel="wechat", platform_id="o-1", now=issued)
    with pytest.raises(ProofRejected, match="expired"):
        verify(token, [KEY])
    with pytest.raises(ProofRejected, match="expired"):
        verify(token, [OTHER, KEY])  # found with the second key of a rotation, still expired
    late = verify(token, [KEY], check_expiry=False)
    assert late == Proof(
        conversation="wechat:o-1", channel="wechat", platform_id="o-1", expired=True
    )
    # Expired or not, a forged one stays forged.
    with pytest.raises(ProofRejected, match="signature"):
        verify(token, [OTHER], check_expiry=False)


def test_a_fresh_proof_lasts_its_ttl():
    now = time.time()
    fresh = issue(KEY, conversation="rest:a", channel="rest", now=now - TTL_SECONDS + 30)
    assert verify(fresh, [KEY]).expired is False
    assert verify(fresh, [KEY], check_expiry=False).expired is False
    claims = jwt.decode(fresh, KEY, algorithms=[ALGORITHM], audience=AUDIENCE)
    assert claims["exp"] - claims["iat"] == TTL_SECONDS == 900
