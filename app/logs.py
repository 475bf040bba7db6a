"""Structured logs: one JSON object per line, each carrying the request id of the work it belongs to.

The request id is taken from a sane `X-Request-ID` header or generated; it is returned in the
response header, put in the meta of the RQ jobs a request (or a scheduler task) enqueues, and
bound again by the worker that runs them, so a WeChat call made by a worker logs the id of the
request or task that caused it. Nothing here imports Flask: gunicorn's config and the workers use it.

Personal data never goes into a log line: no names, ID numbers, login codes, session keys,
openids or tokens. Paths are logged with the sponsor token redacted (`redact_path`)."""
from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
import uuid
from typing import IO, Iterator

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# What a proxy or client may hand us: short, no spaces or control characters (it ends up in logs).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Path segments that are bearer secrets: everything after /sponsor/ (the sponsor token).
_SECRET_PATH = re.compile(r"(/sponsor/)[^/?#]+")
# Libraries that log URLs with query strings (urllib3: `js_code=`, `secret=`) or bodies at DEBUG.
_QUIET_LOGGERS = ("urllib3", "wechatpy", "wechatpayv3", "rq.worker", "rq.scheduler")


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    """The client's id when it is safe to log and echo, else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(request_id: str) -> contextvars.Token:
    return _request_id.set(request_id)


def unbind_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


@contextlib.contextmanager
def request_id_bound(request_id: str | None = None) -> Iterator[str]:
    """Bind a request id (a new one when None) for the work inside the block."""
    request_id = request_id or new_request_id()
    token = bind_request_id(request_id)
    try:
        yield request_id
    finally:
        unbind_request_id(token)


def redact_path(path: str) -> str:
    """The path as it may appear in a log: the sponsor token replaced by `***`."""
    return _SECRET_PATH.sub(r"\1***", path)


class RequestIdFilter(logging.Filter):
    """Stamps every record passing through a handler with the bound request id (or None)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        return True


def json_formatter() -> JsonFormatter:
    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         datefmt="%Y-%m-%dT%H:%M:%S%z", json_ensure_ascii=False)


def configure_logging(level: str | int = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """JSON lines on stderr (or `stream`) for the whole process; returns the handler it installed.
    Called by the process entry points (wsgi.py, gunicorn's config), never by create_app."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_yiqi_json", False):
            root.removeHandler(old)
    handler._yiqi_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
