"""WeCom's callback crypto: the SHA-1 signature and the AES-256-CBC envelope of each message.

WeCom signs ``sha1(sorted(token, timestamp, nonce, encrypted))`` and encrypts with the
EncodingAESKey (43 characters of base64 for a 32-byte key, IV = its first 16 bytes,
PKCS#7 padding to 32-byte blocks) a plaintext of 16 random bytes, the message length
(4 bytes, big-endian), the message and the receiver id (the corp id). The cipher is
``cryptography``'s; only the framing is written here, because the framing is WeCom's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16
_AES_KEY = re.compile(r"^[A-Za-z0-9+/]{43}$")
_TOKEN = re.compile(r"^[A-Za-z0-9]{1,32}$")


#: why a callback whose signature does not match is refused (also what a tenant without WeCom answers)
UNSIGNED = "msg_signature does not match this tenant's token"


class CallbackRefused(ValueError):
    """A message that is not WeCom's for this receiver: bad signature, bad envelope, wrong corp."""


@dataclass(frozen=True, slots=True)
class CallbackKeys:
    """One tenant's callback settings, as set in WeCom's admin console."""

    corp_id: str
    token: str
    aes_key: bytes

    @classmethod
    def of(cls, corp_id: str, token: str, encoding_aes_key: str) -> CallbackKeys:
        if not _TOKEN.match(token):
            raise ValueError("token must be 1-32 letters or digits (WeCom's rule)")
        if not _AES_KEY.match(encoding_aes_key):
            raise ValueError("EncodingAESKey must be 43 characters of base64 (WeCom's rule)")
        if not corp_id:
            raise ValueError("corp id is required")
        return cls(corp_id, token, base64.b64decode(encoding_aes_key + "="))

    def check_signature(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        """Raise CallbackRefused unless ``signature`` is WeCom's for these values and our token."""
        joined = "".join(sorted((self.token, timestamp, nonce, encrypted)))
        expected = hashlib.sha1(joined.encode(), usedforsecurity=False).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise CallbackRefused(UNSIGNED)

    def decrypt(self, encrypted: str) -> bytes:
        """The message inside WeCom's envelope; CallbackRefused for a bad envelope or another corp's."""
        try:
            sealed = base64.b64decode(encrypted, validate=True)
        except binascii.Error:
            raise CallbackRefused("Encrypt is not base64") from None
        if not sealed or len(sealed) % 16:
            raise CallbackRefused("Encrypt is not a whole number of AES blocks")
        decryptor = Cipher(algorithms.AES(self.aes_key), modes.CBC(self.aes_key[:16])).decryptor()
        plain = decryptor.update(sealed) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackRefused("bad padding: not encrypted with this tenant's EncodingAESKey")
        body = plain[16:-pad]
        if len(body) < 4:
            raise CallbackRefused("envelope too short")
        (length,) = struct.unpack(">I", body[:4])
        message, receiver = body[4 : 4 + length], body[4 + length :]
        if len(message) != length:
            raise CallbackRefused("envelope length does not match its message")
        if not hmac.compare_digest(receiver, self.corp_id.encode()):
            raise CallbackRefused("message is addressed to another corp id")
        return message
