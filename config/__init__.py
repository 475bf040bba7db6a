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
    return _int_setting(name, os.environ.get(name), default)


def _int_setting(name: str, raw: str | None, default: int) -> int:
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
    # A PostgreSQL that does not answer fails a connection in 5 s (readiness, requests) instead of hanging.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"connect_args": {"connect_timeout": 5}}
    # A pooled connection back from its last use longer ago than this is pinged before it is handed out
    # (a dead one is replaced); a busier one is not (app/db_pool.py). SQLAlchemy's pool_pre_ping pinged on
    # every checkout: a round trip per request, as long as the member page's query itself (profiled).
    DB_PING_IDLE_SECONDS = 5.0
    REDIS_URL: str | None = None
    JSON_AS_ASCII = False
    # JSON bodies are small; uploads (claim documents) set their own limit per route.
    MAX_JSON_BODY_BYTES = 64 * 1024
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024
    # Input guard (app/api/input_guard.py): our requests nest a few levels and carry small numbers.
    MAX_JSON_DEPTH = 32
    MAX_JSON_NUMBER_LENGTH = 40  # characters of one number literal (a BIGINT has 19 digits)
    # Path + query string; gunicorn is started with --limit-request-line 8190 so that URLs up to
    # that length reach us and get the 414 envelope (longer request lines get gunicorn's own 414).
    MAX_URL_LENGTH = 4096

    AUTH_TOKEN_MAX_AGE_SECONDS = 7 * 24 * 3600
    OPERATOR_TOKEN_MAX_AGE_SECONDS = 8 * 3600
    # The operators' console (/console) signs operators in with a cookie session: never readable by
    # scripts, never sent cross-site, HTTPS only (development over plain http turns Secure off below).
    SESSION_COOKIE_NAME = "yiqi_console"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Strict"
    PERMANENT_SESSION_LIFETIME = 8 * 3600  # as long as an operator token
    WTF_CSRF_TIME_LIMIT = 8 * 3600
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
    # The scheduler hands a due run's chunks to RQ (queue `apportionment`) for `flask apportion work`
    # processes when this is on and Redis is configured; off, it executes runs inline (one worker).
    # Turn it on only where apportion workers run (env APPORTIONMENT_RQ_WORKERS=1).
    APPORTIONMENT_RQ_WORKERS = False
    # Public figures (home page, plan detail) come from plan_stats, refreshed by the scheduler every minute.
    # A read refreshes them itself only when they are older than this (the scheduler is down) or missing.
    PLAN_STATS_MAX_AGE_SECONDS = 180
    # Rendered public answers (plans, plan detail) kept in Redis this long and sent with
    # Cache-Control: public, max-age=<this> (the mini-program and a CDN reuse them; ETag → 304).
    PUBLIC_CACHE_SECONDS = 15
    # A member token's user is looked up once per worker and this period (app/api/security.KnownUsers).
    KNOWN_USERS_TTL_SECONDS = 300
    PLANS_FILE = str(PLANS_FILE)
    # Rule changes (docs/rule-changes.md): a changed plan is put to its members. Consent window, days
    # from the window's end to the effective date (the notice period: who disagreed may leave with a
    # full refund), and the quorum: passes when agree ≥ numerator/denominator of those who answered
    # AND answered ≥ min_turnout_percent of the eligible memberships. Per plan: PROPOSAL_QUORUM_BY_PLAN.
    PROPOSAL_WINDOW_DAYS = 14
    PROPOSAL_NOTICE_DAYS = 30
    PROPOSAL_QUORUM = {"agree_numerator": 2, "agree_denominator": 3, "min_turnout_percent": 10}
    PROPOSAL_QUORUM_BY_PLAN: dict = {}
    # Subscribe messages: template ids and fields (data), the outbox's chunks, leases and retries.
    SUBSCRIBE_TEMPLATES_FILE = str(SUBSCRIBE_TEMPLATES_FILE)
    NOTIFICATION_CHUNK_SIZE = 500
    # ≥ NOTIFICATION_CHUNK_SIZE × the WeChat client's 5 s timeout (2,500 s) plus margin: a chunk is never
    # handed to a second worker while the first may still be sending it.
    NOTIFICATION_LEASE_SECONDS = 2_800
    NOTIFICATION_MAX_ATTEMPTS = 6
    # A plan's wind-down (docs/wind-down.md): balance returns per RQ job, and the WeChat Pay calls
    # (refunds + transfers) per second across every worker, kept under the merchant's rate limits.
    WIND_DOWN_CHUNK_SIZE = 500
    WIND_DOWN_CALLS_PER_SECOND = 100
    WIND_DOWN_LEASE_SECONDS = 2_800  # a chunk not finished in this long is handed out again (killed worker)
    # Rate limits (Flask-Limiter syntax, moving windows; app/api/rate_limits.py). Logins by client
    # address, the others by member. Redis storage when REDIS_URL is set, memory otherwise.
    RATELIMIT_MEMBER_LOGIN = "30/minute;300/hour"
    RATELIMIT_OPERATOR_LOGIN = "5/minute;30/hour"
    RATELIMIT_TOPUP = "10/minute;60/hour"
    RATELIMIT_OBJECTION = "5/minute;20/day"
    RATELIMIT_SPONSOR_VIEW = "30/minute;300/hour"
    # Redis unreachable: count in each process's memory instead of answering 500 (logged by Flask-Limiter).
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # Operator lock-out (per account, in the database, audited): this many wrong passwords in a row
    # lock the account for this long, whatever addresses they came from.
    OPERATOR_LOCKOUT_THRESHOLD = 10
    OPERATOR_LOCKOUT_MINUTES = 15
    # Behind a reverse proxy: how many X-Forwarded-For hops to trust for the client address
    # (werkzeug ProxyFix); 0 = use the socket's address.
    PROXY_FIX_X_FOR = 0
    # Invite farming: at most this many new users attributed to one inviter per hour / per day.
    INVITE_ATTRIBUTIONS_PER_HOUR = 20
    INVITE_ATTRIBUTIONS_PER_DAY = 100
    CLAIM_DOCUMENTS_DIR: str | None = None
    CLAIM_DOCUMENT_MAX_BYTES = 10 * 1024 * 1024  # one image or PDF
    CLAIM_PUBLICITY_DAYS = 5
    # Workers and the scheduler serve their Prometheus counters on this port (unset: not served).
    METRICS_PORT: int | None = None
    # The clock process: per-task cadence overrides in seconds (empty: app/jobs/schedule.py's) and
    # how often it looks for due tasks.
    SCHEDULE_SECONDS: dict = {}
    SCHEDULER_POLL_SECONDS = 20.0
    API_TITLE = "一起互助 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    def __init__(self) -> None:
        self.REDIS_URL = os.environ.get("REDIS_URL") or self.REDIS_URL
        self.METRICS_PORT = _env_int("METRICS_PORT", 0) or None
        self.APPORTIONMENT_RQ_WORKERS = bool(_env_int("APPORTIONMENT_RQ_WORKERS", 0))

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in dir(self) if k.isupper()}


def instance_dir() -> Path:
    """Where development keeps its SQLite file, emulator keys, claim documents and `run.env`
    (INSTANCE_DIR moves it, e.g. for a test that starts `make run`'s processes)."""
    return Path(os.environ.get("INSTANCE_DIR") or PROJECT_ROOT / "instance")


RUN_ENV_FILE = "run.env"
# What `make run` writes to instance/run.env at startup, so `flask` commands run beside it find the
# running instance (ports, database, Redis, keys) without being given the same variables again.
RUN_ENV_KEYS = ("PORT", "EMULATOR_PORT", "DATABASE_URL", "REDIS_URL", "WECHAT_KEYS_DIR")


def read_run_env(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (blank lines and # comments skipped); a missing file is empty."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs if key.strip() in RUN_ENV_KEYS}


# Development runs the clock on short cadences so a newcomer sees pushes arrive and runs move
# (production: the cadences in app/jobs/schedule.py). Seconds per task name.
DEVELOPMENT_SCHEDULE_SECONDS = {
    "notifications.dispatch": 5,
    "payments.reconcile": 60,
    "claims.advance": 60,
    "members.advance": 60,
    "apportionment.publish": 300,
    "apportionment.execute": 60,
}


class DevelopmentConfig(BaseConfig):
    """`make run`: SQLite file, the local WeChat emulator, jobs inline unless REDIS_URL is set.

    A setting comes from the environment (a variable set empty counts), else from instance/run.env
    (written by `make run`), else the default."""

    ENV_NAME = "development"
    SECRET_KEY = "dev-only-secret-key-not-for-production"
    PII_ENCRYPTION_KEY = "ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy1sb25nISE="
    PII_HASH_KEY = "ZGV2LW9ubHktaGFzaC1rZXktMzItYnl0ZXMtbG9uZyE="
    READS_RUN_ENV = True

    def __init__(self) -> None:
        folder = instance_dir()
        run_env = read_run_env(folder / RUN_ENV_FILE) if self.READS_RUN_ENV else {}

        def setting(name: str) -> str | None:
            if name in os.environ:  # set, even empty (REDIS_URL= means "no Redis"): the file is not asked
                return os.environ[name] or None
            return run_env.get(name)

        super().__init__()
        self.REDIS_URL = setting("REDIS_URL") or self.REDIS_URL
        self.SQLALCHEMY_DATABASE_URI = setting("DATABASE_URL") or f"sqlite:///{folder / 'yiqi.sqlite3'}"
        port = _int_setting("EMULATOR_PORT", setting("EMULATOR_PORT"), 8001)
        api_port = _int_setting("PORT", setting("PORT"), 8000)
        self.WECHAT_API_BASE = os.environ.get("WECHAT_API_BASE") or f"http://127.0.0.1:{port}/"
        self.WECHAT_PAY_GATEWAY = os.environ.get("WECHAT_PAY_GATEWAY") or f"http://127.0.0.1:{port}"
        self.WECHAT_PAY_NOTIFY_URL = f"http://127.0.0.1:{api_port}/api/v1/payments/wechat/notify"
        self.WECHAT_PAY_REFUND_NOTIFY_URL = f"http://127.0.0.1:{api_port}/api/v1/payments/wechat/refund-notify"
        self.WECHAT_KEYS_DIR = setting("WECHAT_KEYS_DIR") or str(folder / "wechat-keys")
        self.CLAIM_DOCUMENTS_DIR = os.environ.get("CLAIM_DOCUMENTS_DIR") or str(folder / "claim-documents")
        self.SCHEDULE_SECONDS = dict(DEVELOPMENT_SCHEDULE_SECONDS)
        self.SCHEDULER_POLL_SECONDS = 1.0
        # `make run` serves plain http on localhost: a Secure cookie would never come back.
        self.SESSION_COOKIE_SECURE = os.environ.get("CONSOLE_COOKIE_SECURE", "0") == "1"


class TestingConfig(DevelopmentConfig):
    """Overrides only what tests need; the database URL is given by the test fixture."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    READS_RUN_ENV = False  # a developer's running instance never leaks into the tests

    def __init__(self) -> None:
        super().__init__()
        self.SQLALCHEMY_DATABASE_URI = "sqlite://"
        self.REDIS_URL = None
        # Tests read their own writes on the public pages: figures refreshed on every read, nothing cached.
        self.PLAN_STATS_MAX_AGE_SECONDS = 0
        self.PUBLIC_CACHE_SECONDS = 0
        # Tests log in many operators and members from one address: generous limits, so no test
        # trips one by accident; tests of the limits set the production values (BaseConfig) themselves.
        for setting in ("RATELIMIT_MEMBER_LOGIN", "RATELIMIT_OPERATOR_LOGIN", "RATELIMIT_TOPUP",
                        "RATELIMIT_OBJECTION", "RATELIMIT_SPONSOR_VIEW"):
            setattr(self, setting, "10000/minute")
        self.SCHEDULE_SECONDS = {}
        self.SCHEDULER_POLL_SECONDS = BaseConfig.SCHEDULER_POLL_SECONDS


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
        self.PROXY_FIX_X_FOR = _env_int("PROXY_FIX_X_FOR", BaseConfig.PROXY_FIX_X_FOR)


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
