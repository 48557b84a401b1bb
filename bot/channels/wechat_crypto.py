"""Message signatures and encryption of the WeChat Official Account and WeCom callbacks.

Both platforms use the same scheme (Tencent's "WXBizMsgCrypt"):

- signature: SHA-1 of the token, timestamp, nonce (and, in safe mode, the encrypted message)
  sorted as strings and concatenated, as lowercase hex;
- encryption: AES-256-CBC with the key ``base64(EncodingAESKey + "=")`` and its first 16 bytes
  as IV, PKCS#7 padding to 32-byte blocks, over
  ``16 random bytes | 4-byte big-endian length | message | receive id`` (the AppID of an
  Official Account, the CorpID of WeCom), then base64.

Standard library plus ``cryptography`` (already in both environments); no network.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
MAX_CLOCK_SKEW = 300


class WeChatCryptoError(ValueError):
    """A callback failed verification; the message names the check, never a secret."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str = "") -> str:
    """The platform's SHA-1 signature over the sorted parts."""
    parts = sorted((token, timestamp, nonce, encrypted) if encrypted else (token, timestamp, nonce))
    return hashlib.sha1("".join(parts).encode()).hexdigest()


def check_signature(
    token: str, given: str, timestamp: str, nonce: str, encrypted: str = ""
) -> None:
    """Raise unless ``given`` is the signature (constant-time comparison)."""
    expected = signature(token, timestamp, nonce, encrypted)
    if not hmac.compare_digest(expected, (given or "").lower()):
        raise WeChatCryptoError("bad signature")


def check_timestamp(timestamp: str, now: float | None = None, skew: int = MAX_CLOCK_SKEW) -> None:
    """Raise for a timestamp more than ``skew`` seconds away (a replayed or forged request)."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError) as err:
        raise WeChatCryptoError("bad timestamp") from err
    if abs((time.time() if now is None else now) - sent) > skew:
        raise WeChatCryptoError("timestamp outside the allowed window")


class WeChatCrypto:
    """Encrypts and decrypts the messages of one account (token, EncodingAESKey, receive id)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise WeChatCryptoError("EncodingAESKey must have 43 characters")
        try:
            self._key = base64.b64decode(encoding_aes_key + "=")
        except binascii.Error as err:
            raise WeChatCryptoError("EncodingAESKey is not base64") from err
        self.token = token
        self.receive_id = receive_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def decrypt(self, encrypted: str) -> str:
        """The plain message of an ``Encrypt`` field (or an ``echostr``)."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except binascii.Error as err:
            raise WeChatCryptoError("encrypted text is not base64") from err
        if not data or len(data) % 16:
            raise WeChatCryptoError("encrypted text has a bad length")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise WeChatCryptoError("bad padding")
        content = plain[16:-pad]
        if len(content) < 4:
            raise WeChatCryptoError("message too short")
        (length,) = struct.unpack(">I", content[:4])
        message, receive_id = content[4 : 4 + length], content[4 + length :]
        if len(message) != length:
            raise WeChatCryptoError("bad message length")
        if receive_id.decode("utf-8", "replace") != self.receive_id:
            raise WeChatCryptoError("message is for another account")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as err:
            raise WeChatCryptoError("message is not UTF-8") from err

    def encrypt(self, message: str, random_prefix: bytes | None = None) -> str:
        """Encrypt a reply the way the platform expects."""
        body = message.encode()
        prefix = random_prefix if random_prefix is not None else os.urandom(16)
        plain = prefix + struct.pack(">I", len(body)) + body + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The URL check of a safe-mode callback: verify, then return the plain echo."""
        check_signature(self.token, msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_message(
        self, msg_signature: str, timestamp: str, nonce: str, encrypted: str
    ) -> str:
        """Verify a safe-mode message's signature and return its plain XML."""
        check_signature(self.token, msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)
