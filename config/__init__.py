"""Settings classes. Nothing here is read at import time from the environment
except inside the classes' constructors, so tests can set variables first."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLANS_FILE = PROJECT_ROOT / "config" / "plans.toml"
SUBSCRIBE_TEMPLATES_FILE = PROJECT_ROOT / "config" / "subscribe_templates.toml"
PRIVACY_POLICY_FILE = PROJECT_ROOT / "config" / "privacy" / "policy.toml"


class ConfigError(RuntimeError):
    """A required setting is missing or malformed: the process must not start."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


class BaseConfig:
    """Defaults shared by every environment. Money settings are integer fen."""

    ENV_NAME = "base"
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    REDIS_URL: str | None = None
    JSON_AS_ASCII = False
    # JSON bodies are small; uploads (claim documents) set their own limit per route.
    MAX_JSON_BODY_BYTES = 64 * 1024
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024

    AUTH_TOKEN_MAX_AGE_SECONDS = 7 * 24 * 3600
    OPERATOR_TOKEN_MAX_AGE_SECONDS = 8 * 3600
    # 32 bytes, urlsafe base64: encrypts names and ID numbers at rest; a separate key for the look-up hash.
    PII_ENCRYPTION_KEY: str | None = None
    PII_HASH_KEY: str | None = None
    # Key rotation: "v1:BASE64,v2:BASE64" (newest last) replaces the single keys above, which are `v1`.
    PII_ENCRYPTION_KEYS: str | None = None
    PII_HASH_KEYS: str | None = None
    # Production checks at start that every key still referenced by stored data is configured.
    PII_KEY_CHECK_ON_START = False
    PII_ROTATE_CHUNK_SIZE = 5_000  # rows re-encrypted per transaction by `flask pii rotate`
    # Consents and rights (docs/privacy.md): the policy texts, and how long personal data is kept.
    PRIVACY_POLICY_FILE = str(PRIVACY_POLICY_FILE)
    # After every membership of a person has ended and its money is settled (no balance, no open
    # refund or claim), names and ID numbers are kept this long (disputes, accounting), then erased.
    PII_RETENTION_DAYS = 3 * 365
    # Claim documents (medical records) are deleted this long after their claim closed.
    CLAIM_DOCUMENT_RETENTION_DAYS = 365

    WECHAT_APPID: str | None = None
    WECHAT_SECRET: str | None = None
    WECHAT_API_BASE = "https://api.weixin.qq.com/"
    WECHAT_PAY_GATEWAY = "https://api.mch.weixin.qq.com"
    WECHAT_PAY_MCHID: str | None = None
    WECHAT_PAY_MERCHANT_SERIAL: str | None = None
    WECHAT_PAY_MERCHANT_KEY_PEM: str | None = None
    WECHAT_PAY_APIV3_KEY: str | None = None
    WECHAT_PAY_PLATFORM_PUBLIC_KEY_PEM: str | None = None
    WECHAT_PAY_PLATFORM_PUBLIC_KEY_ID: str | None = None
    WECHAT_PAY_NOTIFY_URL: str | None = None
    WECHAT_PAY_REFUND_NOTIFY_URL: str | None = None
    # Where `make run` and the tests keep locally generated emulator keys.
    WECHAT_KEYS_DIR: str | None = None

    TOPUP_MAX_FEN = 50_000  # 500 yuan a top-up: balances are meant to stay small (ours)
    SUSPENSION_GRACE_DAYS = 30
    APPORTIONMENT_DAYS_OF_MONTH = (1, 16)  # twice a month
    APPORTIONMENT_NOTICE_HOURS = 24  # a published run is executed after members have seen their share this long
    APPORTIONMENT_CHUNK_SIZE = 100_000  # membership ids per chunk transaction (bench: per-chunk overhead)
    PLANS_FILE = str(PLANS_FILE)
    # Subscribe messages: template ids and fields (data), the outbox's chunks, leases and retries.
    SUBSCRIBE_TEMPLATES_FILE = str(SUBSCRIBE_TEMPLATES_FILE)
    NOTIFICATION_CHUNK_SIZE = 500
    # ≥ NOTIFICATION_CHUNK_SIZE × the WeChat client's 5 s timeout (2,500 s) plus margin: a chunk is never
    # handed to a second worker while the first may still be sending it.
    NOTIFICATION_LEASE_SECONDS = 2_800
    NOTIFICATION_MAX_ATTEMPTS = 6
    # Invite farming: at most this many new users attributed to one inviter per hour / per day.
    INVITE_ATTRIBUTIONS_PER_HOUR = 20
    INVITE_ATTRIBUTIONS_PER_DAY = 100
    CLAIM_DOCUMENTS_DIR: str | None = None
    CLAIM_DOCUMENT_MAX_BYTES = 10 * 1024 * 1024  # one image or PDF
    CLAIM_PUBLICITY_DAYS = 5
    API_TITLE = "一起互助 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    def __init__(self) -> None:
        self.REDIS_URL = os.environ.get("REDIS_URL") or self.REDIS_URL

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in dir(self) if k.isupper()}


def _dev_keys_dir() -> str:
    return os.environ.get("WECHAT_KEYS_DIR") or str(PROJECT_ROOT / "instance" / "wechat-keys")


class DevelopmentConfig(BaseConfig):
    """`make run`: SQLite file, the local WeChat emulator, jobs inline unless REDIS_URL is set."""

    ENV_NAME = "development"
    SECRET_KEY = "dev-only-secret-key-not-for-production"
    PII_ENCRYPTION_KEY = "ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy1sb25nISE="
    PII_HASH_KEY = "ZGV2LW9ubHktaGFzaC1rZXktMzItYnl0ZXMtbG9uZyE="

    def __init__(self) -> None:
        super().__init__()
        db_path = PROJECT_ROOT / "instance" / "yiqi.sqlite3"
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{db_path}"
        port = _env_int("EMULATOR_PORT", 8001)
        api_port = _env_int("PORT", 8000)
        self.WECHAT_API_BASE = os.environ.get("WECHAT_API_BASE") or f"http://127.0.0.1:{port}/"
        self.WECHAT_PAY_GATEWAY = os.environ.get("WECHAT_PAY_GATEWAY") or f"http://127.0.0.1:{port}"
        self.WECHAT_PAY_NOTIFY_URL = f"http://127.0.0.1:{api_port}/api/v1/payments/wechat/notify"
        self.WECHAT_PAY_REFUND_NOTIFY_URL = f"http://127.0.0.1:{api_port}/api/v1/payments/wechat/refund-notify"
        self.WECHAT_KEYS_DIR = _dev_keys_dir()
        self.CLAIM_DOCUMENTS_DIR = str(PROJECT_ROOT / "instance" / "claim-documents")


class TestingConfig(DevelopmentConfig):
    """Overrides only what tests need; the database URL is given by the test fixture."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"

    def __init__(self) -> None:
        super().__init__()
        self.SQLALCHEMY_DATABASE_URI = "sqlite://"
        self.REDIS_URL = None


_REQUIRED_IN_PRODUCTION = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "WECHAT_APPID",
    "WECHAT_SECRET",
    "WECHAT_PAY_MCHID",
    "WECHAT_PAY_MERCHANT_SERIAL",
    "WECHAT_PAY_MERCHANT_KEY_PATH",
    "WECHAT_PAY_APIV3_KEY",
    "WECHAT_PAY_PLATFORM_PUBLIC_KEY_PATH",
    "WECHAT_PAY_PLATFORM_PUBLIC_KEY_ID",
    "WECHAT_PAY_NOTIFY_URL",
    "CLAIM_DOCUMENTS_DIR",
)


class ProductionConfig(BaseConfig):
    """Everything from the environment; refuses to start when a secret is missing."""

    ENV_NAME = "production"

    def __init__(self) -> None:
        super().__init__()
        missing = [name for name in _REQUIRED_IN_PRODUCTION if not os.environ.get(name)]
        for single, ring in (("PII_ENCRYPTION_KEY", "PII_ENCRYPTION_KEYS"), ("PII_HASH_KEY", "PII_HASH_KEYS")):
            if not os.environ.get(single) and not os.environ.get(ring):
                missing.append(f"{single} (or {ring})")
        if missing:
            raise ConfigError(
                "Production configuration is missing required environment variables: " + ", ".join(missing)
            )
        env = os.environ
        self.SQLALCHEMY_DATABASE_URI = env["DATABASE_URL"]
        self.REDIS_URL = env["REDIS_URL"]
        self.SECRET_KEY = env["SECRET_KEY"]
        if len(self.SECRET_KEY) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters long")
        self.PII_ENCRYPTION_KEY = env.get("PII_ENCRYPTION_KEY")
        self.PII_HASH_KEY = env.get("PII_HASH_KEY")
        self.PII_ENCRYPTION_KEYS = env.get("PII_ENCRYPTION_KEYS")
        self.PII_HASH_KEYS = env.get("PII_HASH_KEYS")
        self.PII_KEY_CHECK_ON_START = True
        self.PII_RETENTION_DAYS = _env_int("PII_RETENTION_DAYS", BaseConfig.PII_RETENTION_DAYS)
        self.CLAIM_DOCUMENT_RETENTION_DAYS = _env_int("CLAIM_DOCUMENT_RETENTION_DAYS",
                                                      BaseConfig.CLAIM_DOCUMENT_RETENTION_DAYS)
        self.WECHAT_APPID = env["WECHAT_APPID"]
        self.WECHAT_SECRET = env["WECHAT_SECRET"]
        self.WECHAT_API_BASE = env.get("WECHAT_API_BASE") or BaseConfig.WECHAT_API_BASE
        self.WECHAT_PAY_GATEWAY = env.get("WECHAT_PAY_GATEWAY") or BaseConfig.WECHAT_PAY_GATEWAY
        self.WECHAT_PAY_MCHID = env["WECHAT_PAY_MCHID"]
        self.WECHAT_PAY_MERCHANT_SERIAL = env["WECHAT_PAY_MERCHANT_SERIAL"]
        self.WECHAT_PAY_MERCHANT_KEY_PEM = _read_file(env["WECHAT_PAY_MERCHANT_KEY_PATH"], "WECHAT_PAY_MERCHANT_KEY_PATH")
        self.WECHAT_PAY_APIV3_KEY = env["WECHAT_PAY_APIV3_KEY"]
        self.WECHAT_PAY_PLATFORM_PUBLIC_KEY_PEM = _read_file(
            env["WECHAT_PAY_PLATFORM_PUBLIC_KEY_PATH"], "WECHAT_PAY_PLATFORM_PUBLIC_KEY_PATH"
        )
        self.WECHAT_PAY_PLATFORM_PUBLIC_KEY_ID = env["WECHAT_PAY_PLATFORM_PUBLIC_KEY_ID"]
        self.WECHAT_PAY_NOTIFY_URL = env["WECHAT_PAY_NOTIFY_URL"]
        self.WECHAT_PAY_REFUND_NOTIFY_URL = env.get("WECHAT_PAY_REFUND_NOTIFY_URL") or env["WECHAT_PAY_NOTIFY_URL"]
        self.CLAIM_DOCUMENTS_DIR = env["CLAIM_DOCUMENTS_DIR"]
        self.TOPUP_MAX_FEN = _env_int("TOPUP_MAX_FEN", BaseConfig.TOPUP_MAX_FEN)


def pii_keyrings(cfg: dict) -> tuple[dict[str, str], dict[str, str]]:
    """The encryption and hash keyrings ({key id: base64}, newest last) from a settings dict."""
    from app.services.pii import LEGACY_KEY_ID, parse_keyring

    def ring(many: str, single: str) -> dict[str, str]:
        if cfg.get(many):
            try:
                return parse_keyring(cfg[many], many)
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
        if not cfg.get(single):
            raise ConfigError(f"{single} or {many} must be set")
        return {LEGACY_KEY_ID: cfg[single]}

    return ring("PII_ENCRYPTION_KEYS", "PII_ENCRYPTION_KEY"), ring("PII_HASH_KEYS", "PII_HASH_KEY")


def _read_file(path: str, name: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{name} points at {path!r}, which cannot be read: {exc}") from exc


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> BaseConfig:
    name = name or os.environ.get("APP_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError as exc:
        raise ConfigError(f"APP_ENV must be one of {sorted(CONFIGS)}, got {name!r}") from exc
