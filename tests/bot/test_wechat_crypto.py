"""WeChat / WeCom callback crypto against the vectors of Tencent's public documentation.

Vectors: WeCom "加解密方案说明" (https://developer.work.weixin.qq.com/document/path/90968) and
the WXBizMsgCrypt samples: token QDG6eK, EncodingAESKey jWmYm7…B2C, receive id
wx5823bf96d3bd56c7.
"""

from __future__ import annotations

import pytest
from channels.wechat_crypto import (
    WeChatCrypto,
    WeChatCryptoError,
    check_timestamp,
    signature,
)

TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
RECEIVE_ID = "wx5823bf96d3bd56c7"
ECHO = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": (
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    ),
}
MESSAGE = {
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
    "timestamp": "1409659813",
    "nonce": "1372623149",
    "encrypted": (
        "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qcz"
        "cdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qL"
        "jvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LU"
        "Mnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA"
        "3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2"
        "YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
    ),
}


@pytest.fixture
def crypto() -> WeChatCrypto:
    return WeChatCrypto(TOKEN, AES_KEY, RECEIVE_ID)


def test_url_verification_vector(crypto):
    assert crypto.verify_url(**ECHO) == "1616140317555161061"


def test_message_vector_signature_and_decryption(crypto):
    plain = crypto.decrypt_message(**MESSAGE)
    assert plain.startswith("<xml>") and "<ToUserName><![CDATA[wx5823bf96d3bd56c7]]>" in plain
    assert "<MsgType><![CDATA[text]]></MsgType>" in plain


def test_encrypt_round_trip_in_chinese(crypto):
    reply = "<xml><Content><![CDATA[您好，订单已发货]]></Content></xml>"
    encrypted = crypto.encrypt(reply)
    assert crypto.decrypt(encrypted) == reply
    sig = signature(TOKEN, "1409659813", "42", encrypted)
    assert crypto.decrypt_message(sig, "1409659813", "42", encrypted) == reply


@pytest.mark.parametrize(
    "tamper",
    [
        {"msg_signature": "0" * 40},
        {"timestamp": "1409659814"},
        {"nonce": "1"},
    ],
)
def test_forged_signatures_are_rejected(crypto, tamper):
    with pytest.raises(WeChatCryptoError, match="bad signature"):
        crypto.decrypt_message(**{**MESSAGE, **tamper})


def test_another_accounts_message_and_garbage_are_rejected():
    other = WeChatCrypto(TOKEN, AES_KEY, "wx0000000000000000")
    with pytest.raises(WeChatCryptoError, match="another account"):
        other.decrypt_message(**MESSAGE)
    crypto = WeChatCrypto(TOKEN, AES_KEY, RECEIVE_ID)
    for garbage in ("not base64!", "QUJD", ""):
        with pytest.raises(WeChatCryptoError):
            crypto.decrypt(garbage)
    with pytest.raises(WeChatCryptoError):
        WeChatCrypto(TOKEN, "short", RECEIVE_ID)


def test_replayed_timestamps_are_rejected():
    check_timestamp("1000", now=1200)
    for stale in ("1000", "abc", ""):
        with pytest.raises(WeChatCryptoError):
            check_timestamp(stale, now=2000)
