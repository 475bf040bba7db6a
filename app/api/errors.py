"""One JSON error envelope for every failure:
    {"error": {"code": "stable_machine_code", "message": "给用户看的说明", "details": {...}}}"""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

from app.services.errors import ServiceError

log = logging.getLogger(__name__)

STATUS_BY_KIND = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "unavailable": 503,
    "uri_too_long": 414,
    "rate_limited": 429,
}

_HTTP_CODES = {
    400: ("bad_request", "请求格式不正确"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限"),
    404: ("not_found", "没有找到"),
    405: ("method_not_allowed", "不支持这种请求方式"),
    409: ("conflict", "与当前状态冲突"),
    413: ("body_too_large", "请求内容太大"),
    414: ("uri_too_long", "请求地址太长"),
    415: ("unsupported_media_type", "请求内容类型不受支持"),
    422: ("validation_error", "请求中有字段不符合要求"),
    429: ("too_many_requests", "请求太频繁，请稍后再试"),
    500: ("internal_error", "服务器出了点问题，我们会尽快处理"),
}


def envelope(status: int, code: str, message: str, details: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


def http_error_response(error: HTTPException):
    status = error.code or 500
    code, message = _HTTP_CODES.get(status, ("http_error", error.description or "请求失败"))
    details = None
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if messages:
        # webargs puts field errors per location: {"json": {"field": ["..."]}}
        details = {"fields": messages}
        if status == 400 and "json" in messages and messages["json"] == ["Invalid JSON body."]:
            code, message = "malformed_json", "请求体不是合法的JSON"
    response = envelope(status, code, message, details)
    # The exception's own headers: Allow on a 405, Retry-After when a limit set one.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers.add(name, value)
    return response


def service_error_response(error: ServiceError):
    response = envelope(STATUS_BY_KIND.get(error.kind, 400), error.code, error.message, error.details or None)
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ServiceError, service_error_response)
    app.register_error_handler(HTTPException, http_error_response)

    @app.errorhandler(Exception)
    def unexpected(error):  # a 5xx is a bug: log it, show nothing internal
        log.exception("unhandled error")
        return http_error_response(InternalServerError())
