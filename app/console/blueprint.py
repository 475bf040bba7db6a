"""The console blueprint, its session handling, role checks and security headers."""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from functools import wraps

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.services import operator_totp, operators
from app.services.errors import ServiceError

log = logging.getLogger(__name__)
bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

# Pages of the console: scripts and styles from our own static files only, nothing inline, no framing
# by other sites, forms posting only here. Documents are shown in same-origin frames and data: QR images.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'self'")
ROLE_WORDS = {"reviewer": "审核员", "investigator": "调查员", "finance": "财务", "auditor": "审计员"}
PUBLIC_ENDPOINTS = {"console.login", "console.static"}
SECOND_FACTOR_ENDPOINTS = {"console.totp_verify", "console.totp_enrol", "console.logout"}


def services():
    from app.container import current_services

    return current_services()


def now() -> dt.datetime:
    return services().clock.now()


def lockout_policy() -> operators.LockoutPolicy:
    cfg = current_app.config
    return operators.LockoutPolicy(cfg["OPERATOR_LOCKOUT_THRESHOLD"], cfg["OPERATOR_LOCKOUT_MINUTES"])


def start_session(operator) -> None:
    """A fresh session at login: nothing from before survives (no fixation), a new random id."""
    session.clear()
    # Flask-WTF caches the request's CSRF token in g: the old session's token must not outlive it.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    session.permanent = True
    session["sid"] = secrets.token_urlsafe(32)
    session["operator_id"] = operator.id
    session["login_at"] = now().isoformat()
    session["stage"] = "second_factor" if operator_totp.required_for(operator) else "ok"


def _session_operator():
    operator_id = session.get("operator_id")
    login_at = session.get("login_at")
    if not operator_id or not login_at:
        return None
    age = now() - dt.datetime.fromisoformat(login_at)
    if age > dt.timedelta(seconds=current_app.config["OPERATOR_TOKEN_MAX_AGE_SECONDS"]):
        session.clear()
        return None
    try:
        return operators.get_operator(db.session, operator_id)
    except ServiceError:
        session.clear()
        return None


@bp.before_request
def authenticate():
    if request.method == "POST":
        from . import csrf

        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    operator = _session_operator()
    if operator is None:
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
    g.operator = operator
    if session.get("stage") != "ok" and request.endpoint not in SECOND_FACTOR_ENDPOINTS:
        return redirect(url_for("console.totp_enrol" if operator.totp_enrolled_at is None else "console.totp_verify"))
    return None


@bp.after_request
def security_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "private, no-store"
    return response


def role_required(*roles: str):
    """The same roles as the admin API; anything else is the 403 page."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not g.operator.role_set.intersection(roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


@bp.app_context_processor
def console_context():
    if request.blueprint != "console":
        return {}
    operator = g.get("operator")

    def has_role(*roles: str) -> bool:
        return operator is not None and bool(operator.role_set.intersection(roles))

    return {"role_words": ROLE_WORDS, "current_operator": operator, "has_role": has_role}


CHINA = dt.timezone(dt.timedelta(hours=8), "北京时间")


@bp.app_template_filter("china_time")
def china_time(moment: dt.datetime) -> str:
    """Operators read Beijing time; the database keeps UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _error_page(status: int, title: str, message: str):
    return render_template("console/error.html", status=status, title=title, message=message), status


@bp.errorhandler(403)
def forbidden(_error):
    return _error_page(403, "无权访问", "你的角色不能查看这个页面。")


@bp.errorhandler(404)
def not_found(_error):
    return _error_page(404, "没有找到", "没有这个页面或记录。")


@bp.errorhandler(CSRFError)
def csrf_failed(_error):
    return _error_page(400, "请求已失效", "表单已过期或来源不明，请返回上一页刷新后重试。")


@bp.errorhandler(429)
def too_many(error):
    body, status = _error_page(429, "操作太频繁", "请求次数过多，请稍后再试。")
    return body, status, {name: value for name, value in error.get_headers() if name.lower() == "retry-after"}


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    if error.code is None or error.code < 400:  # a routing redirect, not an error
        return error
    return _error_page(error.code, "请求无法处理", error.description or "请求无法处理。")


@bp.errorhandler(Exception)
def unexpected(_error):  # a 500 is a bug: logged, nothing internal shown, a page not JSON
    log.exception("unhandled error in the console")
    return _error_page(500, "出错了", "服务器出了点问题，请稍后重试；问题已记录。")


@bp.errorhandler(ServiceError)
def service_error(error: ServiceError):
    from app.api.errors import STATUS_BY_KIND

    return _error_page(STATUS_BY_KIND.get(error.kind, 400), "无法完成", error.message)
