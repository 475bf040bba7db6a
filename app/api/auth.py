from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from app.extensions import db
from app.services import users
from app.services.invites import AttributionLimiter

from .error_docs import errors
from .rate_limits import by_address, rate_limited
from .schemas import ErrorEnvelope, LoginRequest, LoginResponse
from .security import services

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="WeChat login")


@blp.route("/login", methods=["POST"])
@rate_limited(blp, "RATELIMIT_MEMBER_LOGIN", by_address, "member-login")
@blp.arguments(LoginRequest)
@blp.response(200, LoginResponse)
@blp.alt_response(400, schema=ErrorEnvelope, description="WeChat refused the code (reused, expired, invalid)")
@errors("wechat_login_failed", "upstream_unavailable")
def login(body):
    """Exchange a wx.login code for our bearer token."""
    container = services()
    cfg = current_app.config
    limiter = AttributionLimiter(cfg["INVITE_ATTRIBUTIONS_PER_HOUR"], cfg["INVITE_ATTRIBUTIONS_PER_DAY"],
                                 container.rate_limit_storage)
    result = users.login(db.session, container.pii, container.mini_program, code=body["code"],
                         now=container.clock.now(), inviter=body.get("inviter"), invite_limiter=limiter)
    return {
        "token": container.member_tokens.issue(result.user.id),
        "token_type": "Bearer",
        "expires_in": container.member_tokens.max_age_seconds,
        "user": {"id": result.user.id, "invite_code": result.user.invite_code, "is_new": result.created,
                 "invited_by_user_id": result.user.invited_by_user_id},
    }
