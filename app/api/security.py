"""Bearer-token authentication for members."""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, request

from app.services.errors import Unauthorized

BEARER = [{"bearerAuth": []}]


def services():
    return current_app.extensions["yiqi"]


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("请先登录", code="token_missing")
    return token.strip()


def member_required(view):
    """Sets g.user_id from a valid member token, else answers 401."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        from app.extensions import db
        from app.models import User

        user_id = services().member_tokens.verify(bearer_token())
        if db.session.get(User, user_id) is None:
            raise Unauthorized("登录凭证无效，请重新登录", code="token_invalid")
        g.user_id = user_id
        return view(*args, **kwargs)

    return wrapper
