"""Development key material for the WeChat emulator and the app's dev/test config.

Real deployments get these values from the WeChat Pay merchant platform; in
development both sides (emulator and app) read the same directory so that the
signatures each side makes can be verified by the other.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEYS_FILE = "keys.json"
# (private key file, public key file) for each RSA pair
MERCHANT_PAIR = ("merchant_private.pem", "merchant_public.pem")
PLATFORM_PAIR = ("platform_private.pem", "platform_public.pem")
DEV_MCHID = "1900000001"


@dataclass(frozen=True)
class KeySet:
    merchant_private_key: str  # PEM, signs the merchant's API requests
    merchant_public_key: str  # PEM, what WeChat Pay verifies them with
    platform_private_key: str  # PEM, signs WeChat Pay responses and notifications
    platform_public_key: str  # PEM, what the merchant verifies them with
    merchant_serial: str
    platform_public_key_id: str
    apiv3_key: str
    mchid: str
    appid: str
    secret: str


def generate_dev_keys(directory: str | os.PathLike) -> dict:
    """Create whatever is missing in `directory`; never overwrite. Returns keys.json's content."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for private_name, public_name in (MERCHANT_PAIR, PLATFORM_PAIR):
        _ensure_rsa_pair(directory / private_name, directory / public_name)
    keys_path = directory / KEYS_FILE
    if not keys_path.exists():
        _write_new(keys_path, json.dumps(_new_identifiers(), indent=2) + "\n", mode=0o600)
    return json.loads(keys_path.read_text())


def load_keys(directory: str | os.PathLike) -> KeySet:
    directory = Path(directory)
    ids = json.loads((directory / KEYS_FILE).read_text())
    pem = {name: (directory / name).read_text() for name in MERCHANT_PAIR + PLATFORM_PAIR}
    return KeySet(
        merchant_private_key=pem[MERCHANT_PAIR[0]],
        merchant_public_key=pem[MERCHANT_PAIR[1]],
        platform_private_key=pem[PLATFORM_PAIR[0]],
        platform_public_key=pem[PLATFORM_PAIR[1]],
        merchant_serial=ids["merchant_serial"],
        platform_public_key_id=ids["platform_public_key_id"],
        apiv3_key=ids["apiv3_key"],
        mchid=ids["mchid"],
        appid=ids["appid"],
        secret=ids["secret"],
    )


def _new_identifiers() -> dict:
    alphanumeric = string.ascii_letters + string.digits
    return {
        "merchant_serial": secrets.token_hex(20).upper(),
        "platform_public_key_id": f"PUB_KEY_ID_{secrets.randbelow(10**28):028d}",
        "apiv3_key": "".join(secrets.choice(alphanumeric) for _ in range(32)),
        "mchid": DEV_MCHID,
        "appid": "wx" + secrets.token_hex(8),
        "secret": secrets.token_hex(16),
    }


def _ensure_rsa_pair(private_path: Path, public_path: Path) -> None:
    if not private_path.exists():
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_new(private_path, private_pem.decode(), mode=0o600)
    if not public_path.exists():
        # Derived from whatever private key is on disk, so a pair always matches.
        private_key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        public_pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_new(public_path, public_pem.decode(), mode=0o644)


def _write_new(path: Path, text: str, mode: int) -> None:
    """Write a file that must not exist yet; a concurrent creator wins and is kept."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
