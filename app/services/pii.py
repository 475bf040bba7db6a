"""Personal data at rest: AES-256-GCM for names and ID numbers, HMAC-SHA256 for look-ups."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1:"


def _key(b64: str, name: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(b64)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError(f"{name} must decode to 32 bytes, got {len(raw)}")
    return raw


class PiiProtector:
    def __init__(self, encryption_key_b64: str, hash_key_b64: str):
        self._aead = AESGCM(_key(encryption_key_b64, "PII_ENCRYPTION_KEY"))
        self._hash_key = _key(hash_key_b64, "PII_HASH_KEY")

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), None)
        return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str) -> str:
        if not token.startswith(_PREFIX):
            raise ValueError("unknown ciphertext format")
        raw = base64.urlsafe_b64decode(token[len(_PREFIX):])
        return self._aead.decrypt(raw[:12], raw[12:], None).decode("utf-8")

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def mask_name(name: str) -> str:
    """张三丰 → 张*: the family name only, and no hint of the given name's length."""
    return (name[:1] + "*") if name else ""


def mask_id_number(id_number: str) -> str:
    """110101201001011234 → 1101**********1234."""
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]
