"""gunicorn settings for the API: `gunicorn --config deploy/gunicorn.conf.py wsgi:app`.

Environment: PORT (8000), WEB_CONCURRENCY (workers; default 2 × CPUs available + 1),
GUNICORN_THREADS (4), GUNICORN_WORKER_CONNECTIONS (1000), GUNICORN_TIMEOUT (30 s),
GUNICORN_MAX_REQUESTS (100,000: a worker is recycled after about that many requests), LOG_LEVEL (INFO),
PROMETHEUS_MULTIPROC_DIR.

Logs are JSON lines: the access log (stdout) carries the request id and the path with the
sponsor token redacted, never a header, body or token; the error log and the app's logs go to stderr."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from gunicorn import glogging

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

# Prometheus multiprocess mode: each worker writes its counters to this directory and /metrics adds
# them up. It must be set before prometheus_client is imported, so here, before any worker starts.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="yiqi-prometheus-")

from app.logs import redact_path  # noqa: E402 - after sys.path and the multiprocess directory


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what this container may use, not the host's count
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * _cpus() + 1)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)  # a request never waits on WeChat longer than 10 s
graceful_timeout = 30
keepalive = 5
# A gthread worker accepts connections while it has fewer than this: with kept-alive connections (a proxy
# pooling its upstream connections, wrk) the accept race can hand all of them to one worker, which then
# serves them on one core while the other idles (bench/api_load.py: 32 connections all on one worker →
# 730 requests/s, split 16/16 → 1,450-1,520). Set it near the pool size / workers to keep them split.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS") or 1000)
# Recycle workers now and then (a slow leak never becomes an outage), but rarely: starting a worker
# costs ~5 s of CPU (imports, the OpenAPI document); at 2,000 requests a worker restarted every few
# seconds under load (bench/api_load.py), a fifth of the CPU and the p99 of whatever queued behind it.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS") or 100_000)
max_requests_jitter = max_requests // 10
# gunicorn's maximum: URLs up to it reach the app, which answers one over MAX_URL_LENGTH (4096) with 414
# in our JSON envelope; a request line over 8190 bytes gets gunicorn's own 414 before any Python runs.
limit_request_line = 8190
limit_request_fields = 60
limit_request_field_size = 8190
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


class AccessLogger(glogging.Logger):
    """One JSON line per request with a fixed set of fields: the sponsor token redacted from the
    path, no request headers (Authorization), no query values beyond the query string itself."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        response_headers = dict((k.lower(), v) for k, v in resp.headers)
        self.access_log.info("request", extra={
            "method": environ.get("REQUEST_METHOD"),
            "path": redact_path(environ.get("PATH_INFO") or ""),
            "query": redact_path(environ.get("QUERY_STRING") or "") or None,
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "remote": environ.get("REMOTE_ADDR"),
            "request_id": response_headers.get("x-request-id"),
        })


logger_class = AccessLogger
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "app.logs.json_formatter"}},
    "filters": {"request_id": {"()": "app.logs.RequestIdFilter"}},
    "handlers": {
        "access": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"],
                   "stream": "ext://sys.stdout"},
        "error": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"],
                  "stream": "ext://sys.stderr"},
    },
    # The root logger gets its JSON handler from wsgi.py (app.logs.configure_logging).
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}


def on_starting(server):
    """A fresh multiprocess directory: counters of a previous run must not be added to this one's."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
