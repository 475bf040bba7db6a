"""Personal data at rest: AES-256-GCM for names and ID numbers, HMAC-SHA256 for look-ups.

Several keys, each with an id: a ciphertext is `<key id>:<base64(nonce ‖ sealed)>` (the original
single key is id `v1`, so rows written before rotation existed read unchanged). New writes use the
newest key; `flask pii rotate` moves old rows to it. The look-up hash also has keyed versions:
while more than one hash key is configured (the dual-read period of a rotation), look-ups try
every one of them."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LEGACY_KEY_ID = "v1"
_KEY_ID = re.compile(r"^[a-z0-9]{1,8}$")


def _key(b64: str, name: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(b64)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError(f"{name} must decode to 32 bytes, got {len(raw)}")
    return raw


def parse_keyring(spec: str, name: str) -> dict[str, str]:
    """"v1:BASE64,v2:BASE64" → {"v1": "BASE64", "v2": "BASE64"}, in the order given (newest last)."""
    keys: dict[str, str] = {}
    for part in (p.strip() for p in (spec or "").split(",")):
        if not part:
            continue
        key_id, sep, value = part.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ValueError(f"{name}: each entry is <key id>:<base64 key>, key id [a-z0-9]{{1,8}}")
        if key_id in keys:
            raise ValueError(f"{name}: key id {key_id} appears twice")
        keys[key_id] = value
    if not keys:
        raise ValueError(f"{name} names no key")
    return keys


def key_id_of(token: str) -> str:
    key_id, sep, _ = token.partition(":")
    if not sep:
        raise ValueError("unknown ciphertext format")
    return key_id


class PiiProtector:
    """`encryption_keys` / `hash_keys`: one base64 key (it is `v1`) or {key id: base64}, newest last."""

    def __init__(self, encryption_keys: str | dict[str, str], hash_keys: str | dict[str, str]):
        if isinstance(encryption_keys, str):
            encryption_keys = {LEGACY_KEY_ID: encryption_keys}
        if isinstance(hash_keys, str):
            hash_keys = {LEGACY_KEY_ID: hash_keys}
        if not encryption_keys or not hash_keys:
            raise ValueError("at least one encryption key and one hash key are needed")
        self._aeads = {kid: AESGCM(_key(b64, f"PII encryption key {kid}")) for kid, b64 in encryption_keys.items()}
        self._hash_keys = {kid: _key(b64, f"PII hash key {kid}") for kid, b64 in hash_keys.items()}
        self.key_id = list(self._aeads)[-1]
        self.hash_key_id = list(self._hash_keys)[-1]

    @property
    def encryption_key_ids(self) -> tuple[str, ...]:
        return tuple(self._aeads)

    @property
    def hash_key_ids(self) -> tuple[str, ...]:
        return tuple(self._hash_keys)

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aeads[self.key_id].encrypt(nonce, plaintext.encode("utf-8"), None)
        return f"{self.key_id}:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str) -> str:
        key_id = key_id_of(token)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise ValueError(f"ciphertext under key {key_id}, which is not configured")
        raw = base64.urlsafe_b64decode(token[len(key_id) + 1:])
        return aead.decrypt(raw[:12], raw[12:], None).decode("utf-8")

    def is_current(self, token: str) -> bool:
        return key_id_of(token) == self.key_id

    def reencrypt(self, token: str) -> str:
        """The same plaintext under the newest key; a token already under it is returned as is
        (so running a rotation twice never encrypts a ciphertext)."""
        return token if self.is_current(token) else self.encrypt(self.decrypt(token))

    def lookup_hash(self, value: str, key_id: str | None = None) -> str:
        key = self._hash_keys[key_id or self.hash_key_id]
        return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def lookup_hashes(self, value: str) -> list[str]:
        """Every configured key's hash, newest first: a look-up during a hash rotation finds rows
        written under either key."""
        return [self.lookup_hash(value, kid) for kid in reversed(self._hash_keys)]


def mask_name(name: str) -> str:
    """张三丰 → 张*: the family name only, and no hint of the given name's length."""
    return (name[:1] + "*") if name else ""


def mask_id_number(id_number: str) -> str:
    """110101201001011234 → 1101**********1234."""
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]
