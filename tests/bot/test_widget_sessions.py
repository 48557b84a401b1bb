"""Widget session tokens: Rasa's channel issues them, the bridge's history route checks them."""

from __future__ import annotations

from channels import widget_sessions

from crm_bridge.core.widget_sessions import session_of


def test_an_issued_token_names_its_session_on_both_sides():
    session_id, token = widget_sessions.issue("k1")
    assert widget_sessions.SESSION_ID.match(session_id)
    assert token.startswith(session_id + ".")
    assert widget_sessions.verify(["k1"], token) == session_id
    assert session_of(token, ["k1"]) == session_id


def test_the_session_id_alone_or_a_forged_secret_is_refused():
    session_id, token = widget_sessions.issue("k1")
    forged = f"{session_id}.{widget_sessions.issue('other')[1].split('.')[1]}"
    for bad in (session_id, forged, token + "x", "", None, 42, "w_1.abc", "x" * 500):
        assert widget_sessions.verify(["k1"], bad) is None
        assert session_of(bad if isinstance(bad, str) else None, ["k1"]) is None


def test_a_rotated_key_keeps_open_sessions_and_signs_new_ones():
    _old_id, old = widget_sessions.issue("old")
    keys = widget_sessions.keys_from("new, old")
    assert keys == ["new", "old"]
    assert widget_sessions.verify(keys, old) is not None
    assert session_of(old, keys) is not None
    assert widget_sessions.verify(["new"], old) is None
