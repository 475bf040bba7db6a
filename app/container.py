"""Per-app wiring of the services' collaborators: clock, PII keys, token issuers, WeChat adapters,
Redis. Built once in create_app; WeChat clients are created on first use.

The one way to reach it: `current_services()` inside a request, CLI command or job running in an app
context (blueprints, app/cli, app/jobs), `container_of(app)` with an app object at hand. Tests replace
a collaborator with `container_of(app).override(pay=fake)` (tests/conftest.py)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app

from app.services.clock import SystemClock
from app.services.pii import PiiProtector
from app.services.ports import Clock
from app.services.tokens import TokenIssuer
from config import pii_keyrings

if TYPE_CHECKING:
    from wechat.mp import MiniProgramClient
    from wechat.pay import PayClient


@dataclass
class Container:
    config: dict
    clock: Clock = field(default_factory=SystemClock)
    # Re-entrant: a factory may need another collaborator (mini_program needs redis for its token storage).
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _cache: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        cfg = self.config
        self.pii = PiiProtector(*pii_keyrings(cfg))
        self.member_tokens = TokenIssuer(cfg["SECRET_KEY"], "member", cfg["AUTH_TOKEN_MAX_AGE_SECONDS"])
        self.operator_tokens = TokenIssuer(cfg["SECRET_KEY"], "operator", cfg["OPERATOR_TOKEN_MAX_AGE_SECONDS"])

    def override(self, **collaborators) -> None:
        """Replace collaborators by name (clock, pay, mini_program, redis, ...); None removes an override."""
        for name, value in collaborators.items():
            if name == "clock":
                self.clock = SystemClock() if value is None else value
            elif value is None:
                self.overrides.pop(name, None)
            else:
                self.overrides[name] = value

    def _once(self, name: str, factory):
        if name in self.overrides:
            return self.overrides[name]
        with self._lock:
            if name not in self._cache:
                self._cache[name] = factory()
            return self._cache[name]

    @property
    def redis(self):
        """A Redis client when REDIS_URL is configured, else None (the embedded default)."""
        url = self.config.get("REDIS_URL")
        if not url:
            return self.overrides.get("redis")

        def make():
            import redis

            return redis.Redis.from_url(url)

        return self._once("redis", make)

    @property
    def rate_limit_storage(self):
        """Counters of the `limits` library (invite attributions): Redis when configured, else memory."""

        def make():
            from limits.storage import storage_from_string

            return storage_from_string(self.config.get("REDIS_URL") or "memory://")

        return self._once("rate_limit_storage", make)

    @property
    def mini_program(self) -> MiniProgramClient:
        def make():
            from wechat.mp import MiniProgramClient, RedisTokenStorage

            cfg = self.config
            storage = RedisTokenStorage(self.redis, prefix="yiqi:wechat") if self.redis is not None else None
            return MiniProgramClient(cfg["WECHAT_APPID"], cfg["WECHAT_SECRET"], cfg["WECHAT_API_BASE"],
                                     token_storage=storage)

        return self._once("mini_program", make)

    @property
    def privacy_policy(self):
        """The current privacy policy and consent texts (config/privacy/policy.toml)."""
        from app.services.consents import load_policy

        return load_policy(self.config["PRIVACY_POLICY_FILE"])

    @property
    def subscribe_templates(self):
        from app.services.subscriptions import load_templates

        return load_templates(self.config["SUBSCRIBE_TEMPLATES_FILE"])

    @property
    def pay(self) -> PayClient:
        def make():
            from wechat.pay import PayClient

            cfg = self.config
            return PayClient(
                mchid=cfg["WECHAT_PAY_MCHID"], appid=cfg["WECHAT_APPID"],
                merchant_private_key_pem=cfg["WECHAT_PAY_MERCHANT_KEY_PEM"],
                merchant_serial=cfg["WECHAT_PAY_MERCHANT_SERIAL"], apiv3_key=cfg["WECHAT_PAY_APIV3_KEY"],
                platform_public_key_pem=cfg["WECHAT_PAY_PLATFORM_PUBLIC_KEY_PEM"],
                platform_public_key_id=cfg["WECHAT_PAY_PLATFORM_PUBLIC_KEY_ID"],
                notify_url=cfg["WECHAT_PAY_NOTIFY_URL"], gateway=cfg["WECHAT_PAY_GATEWAY"],
                refund_notify_url=cfg.get("WECHAT_PAY_REFUND_NOTIFY_URL"),
            )

        return self._once("pay", make)


EXTENSION = "yiqi"  # the key under app.extensions


def install(app: Flask, container: Container) -> Container:
    app.extensions[EXTENSION] = container
    return container


def container_of(app: Flask) -> Container:
    """The container wired into `app` by create_app."""
    return app.extensions[EXTENSION]


def current_services() -> Container:
    """The current app's container (inside a request, a CLI command or a job's app context)."""
    return container_of(current_app)
