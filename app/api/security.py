"""Bearer-token authentication for members."""
from __future__ import annotations

import threading
import time
from functools import wraps

from flask import current_app, g, request

from app.container import current_services
from app.services.errors import Unauthorized

BEARER = [{"bearerAuth": []}]


def services():
    return current_services()


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("请先登录", code="token_missing")
    return token.strip()


class KnownUsers:
    """User ids this process has seen in the database, remembered for `ttl_seconds` (monotonic time):
    a member's token is checked against the users table once per worker and period instead of on
    every request (profiled: that lookup was a quarter of GET /memberships/{id}'s database round trips).
    No code deletes a user; if one ever does, its token still passes here for at most the period,
    and its memberships' routes still filter by user id."""

    def __init__(self, ttl_seconds: float = 300.0, max_size: int = 100_000):
        self.ttl_seconds, self.max_size = ttl_seconds, max_size
        self._seen: dict[int, float] = {}
        self._lock = threading.Lock()

    def __contains__(self, user_id: int) -> bool:
        seen = self._seen.get(user_id)
        return seen is not None and time.monotonic() - seen < self.ttl_seconds

    def add(self, user_id: int) -> None:
        with self._lock:
            if len(self._seen) >= self.max_size:
                self._seen.clear()  # rare; the next requests look users up again
            self._seen[user_id] = time.monotonic()


def known_users() -> KnownUsers:
    extensions = current_app.extensions
    if "yiqi_known_users" not in extensions:
        extensions["yiqi_known_users"] = KnownUsers(current_app.config.get("KNOWN_USERS_TTL_SECONDS", 300))
    return extensions["yiqi_known_users"]


def member_required(view):
    """Sets g.user_id from a valid member token of an existing user, else answers 401."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        from app.extensions import db
        from app.services.users import user_exists

        user_id = services().member_tokens.verify(bearer_token())
        known = known_users()
        if user_id not in known:
            if not user_exists(db.session, user_id):
                raise Unauthorized("登录凭证无效，请重新登录", code="token_invalid")
            known.add(user_id)
        g.user_id = user_id
        return view(*args, **kwargs)

    return wrapper
