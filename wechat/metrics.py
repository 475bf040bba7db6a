"""Every call the adapters make to WeChat: one log line (operation, outcome, errcode, duration, and the
request id the process has bound) and, on failure, a count by errcode. Never the arguments: they
carry login codes, openids and session keys."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from prometheus_client import Counter

log = logging.getLogger("wechat.calls")

WECHAT_CALL_ERRORS = Counter(
    "yiqi_wechat_call_errors_total",
    "Failed calls to WeChat by API (mp: mini-program server API, pay: WeChat Pay), operation and errcode "
    "(WeChat's errcode or Pay error code; 'timeout' when no answer came)",
    ["api", "operation", "errcode"])


@contextmanager
def observed_call(api: str, operation: str, errcode_of: Callable[[Exception], str | None]) -> Iterator[None]:
    """Wraps one call; `errcode_of` names the error (None: not a WeChat failure, not counted)."""
    started = time.perf_counter()
    try:
        yield
    except Exception as error:
        errcode = errcode_of(error)
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        if errcode is not None:
            WECHAT_CALL_ERRORS.labels(api, operation, errcode).inc()
        log.warning("wechat call failed", extra={"api": api, "operation": operation, "outcome": "error",
                                                 "errcode": errcode, "duration_ms": elapsed_ms})
        raise
    log.info("wechat call", extra={"api": api, "operation": operation, "outcome": "ok",
                                   "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
