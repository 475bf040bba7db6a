"""Service errors carry a stable machine code and a human message (Chinese, for users).

`kind` says what sort of failure it is; the HTTP layer maps kinds to status codes."""
from __future__ import annotations


class ServiceError(Exception):
    kind = "invalid"  # invalid | not_found | conflict | forbidden | unauthorized | unavailable | rate_limited
    code = "invalid_request"
    message = "请求无效"

    def __init__(self, message: str | None = None, *, code: str | None = None, details: dict | None = None):
        self.message = message or self.message
        if code:
            self.code = code
        self.details = details or {}
        super().__init__(self.message)


class InvalidRequest(ServiceError):
    kind = "invalid"


class NotFound(ServiceError):
    kind = "not_found"
    code = "not_found"
    message = "没有找到"


class Conflict(ServiceError):
    kind = "conflict"
    code = "conflict"
    message = "与当前状态冲突"


class Forbidden(ServiceError):
    kind = "forbidden"
    code = "forbidden"
    message = "没有权限"


class Unauthorized(ServiceError):
    kind = "unauthorized"
    code = "unauthorized"
    message = "请先登录"


class Unavailable(ServiceError):
    kind = "unavailable"
    code = "upstream_unavailable"
    message = "微信服务暂时不可用，请稍后再试"


class TooManyRequests(ServiceError):
    """Refused for now; `retry_after_seconds` tells the client when to try again (Retry-After)."""

    kind = "rate_limited"
    code = "too_many_requests"
    message = "请求太频繁，请稍后再试"

    def __init__(self, message: str | None = None, *, retry_after_seconds: int, code: str | None = None,
                 details: dict | None = None):
        self.retry_after_seconds = max(1, int(retry_after_seconds))
        super().__init__(message, code=code, details={**(details or {}),
                                                      "retry_after_seconds": self.retry_after_seconds})


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"
    message = "同一个幂等键被用于不同的内容"


class InsufficientBalance(Conflict):
    code = "insufficient_balance"
    message = "余额不足"


class UnbalancedTransaction(InvalidRequest):
    code = "unbalanced_transaction"
    message = "记账分录借贷不平"
