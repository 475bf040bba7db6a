"""Rate limits (Flask-Limiter) where money and identity are at stake.

Storage: Redis when REDIS_URL is set (shared by every gunicorn worker and host), memory otherwise
(development, tests). Moving windows, so a burst straddling a minute boundary is still counted as
one minute. Each limit is a setting (`RATELIMIT_*` in config), read per request: tests and
deployments change them without code. A refusal is 429 in the error envelope with Retry-After."""
from __future__ import annotations

from flask import Flask, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from .schemas import ErrorEnvelope

limiter = Limiter(key_func=get_remote_address, strategy="moving-window", headers_enabled=True,
                  key_prefix="yiqi:ratelimit")


def by_address() -> str:
    return "addr:" + get_remote_address()


def by_member() -> str:
    """The logged-in member (their token was checked first), so people behind one NAT don't share."""
    user_id = getattr(g, "user_id", None)
    return f"member:{user_id}" if user_id is not None else by_address()


def rate_limited(blp, setting: str, key_func, scope: str):
    """Apply the limit named by `setting` and document its 429. Place it under the auth decorator,
    so `by_member` sees the member."""

    def decorate(view):
        limited = limiter.limit(lambda: current_app.config[setting], key_func=key_func, scope=scope)(view)
        return blp.alt_response(429, schema=ErrorEnvelope, description=(
            f"too many requests (`{setting}`); Retry-After says when to try again"))(limited)

    return decorate


def init_rate_limits(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    limiter.init_app(app)
    if not _limits_outside_routes():
        # Every limit of ours is on a route (rate_limited), and Flask-Limiter's route decorator checks it
        # itself. Its before_request hook only adds default, application and blueprint limits — we have
        # none — yet resolved them on every request: the costliest hook of GET /memberships/{id}
        # (bench/profile_api.py). Its after_request (Retry-After, X-RateLimit-*) stays.
        app.before_request_funcs[None].remove(limiter._check_request_limit)


def _limits_outside_routes() -> bool:
    manager = limiter.limit_manager
    return bool(manager.default_limits or manager.application_limits or manager._blueprint_limits
                or limiter._meta_limits)
