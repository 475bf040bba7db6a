"""Prometheus metrics.

- The API: request counts and latency by endpoint (prometheus-flask-exporter), the process
  counters below, and the domain gauges (`DomainCollector`, aggregate queries at scrape time),
  all at `GET /metrics`.
- Workers and the scheduler: the process counters on a small HTTP port (`METRICS_PORT`).

Under gunicorn set `PROMETHEUS_MULTIPROC_DIR` (an empty directory, wiped at start by
deploy/gunicorn.conf.py): every worker process writes its counters there and `/metrics` adds them
up, whichever worker answers the scrape. The domain gauges are computed afresh by that worker."""
from __future__ import annotations

import logging
import os

import sqlalchemy as sa
from flask import Flask, Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from wechat.metrics import WECHAT_CALL_ERRORS  # noqa: F401 - registered in this process's counters

log = logging.getLogger(__name__)

RECONCILE_CORRECTIONS = Counter(
    "yiqi_reconcile_corrections_total",
    "What payment reconciliation found that notifications had not done: orders settled or closed, "
    "refunds completed or failed, and errors",
    ["kind"])
NOTIFICATIONS_DELIVERED = Counter(
    "yiqi_notifications_delivered_total", "Outbox rows a worker finished, by outcome", ["outcome"])
BILL_MISMATCHES = Counter(
    "yiqi_bill_mismatches_total",
    "Lines the daily reconciliation with WeChat Pay's bills found not matching, by category and kind "
    "(counted each time a day is reconciled)",
    ["category", "kind"])
SCHEDULED_TASK_RUNS = Counter(
    "yiqi_scheduler_task_runs_total", "Periodic tasks run by the scheduler, by outcome", ["task", "outcome"])


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def record_reconcile(report) -> None:
    """Count what a `payments.reconcile` run corrected (a ReconcileReport)."""
    for kind, amount in (("order_settled", report.orders_settled), ("order_closed", report.orders_closed),
                         ("refund_completed", report.refunds_completed), ("refund_failed", report.refunds_failed),
                         ("error", len(report.errors))):
        if amount:
            RECONCILE_CORRECTIONS.labels(kind).inc(amount)


def record_bill_reconciliation(session, rec) -> None:
    """Count the mismatches of a reconciled day (a BillReconciliation; None or a refused day: nothing)."""
    from app.services.bill_resolutions import mismatch_counts

    if rec is None or rec.status != "done":
        return
    for (category, kind), count in mismatch_counts(session, rec.id).items():
        BILL_MISMATCHES.labels(category, kind).inc(count)


class DomainCollector:
    """Gauges of the work in flight, read from the database when scraped. A database that does not
    answer gives `yiqi_domain_metrics_up 0` (and no other domain gauge), never a failed scrape."""

    def __init__(self, app: Flask):
        self.app = app

    def describe(self):
        return []  # computed at scrape time: nothing to check at registration

    def collect(self):
        from app.extensions import db
        from app.services.operations import snapshot

        up = GaugeMetricFamily("yiqi_domain_metrics_up", "1 when the domain gauges could be read from the database")
        try:
            with self.app.app_context():
                try:
                    if db.engine.dialect.name == "postgresql":  # a scrape never holds the database long
                        db.session.execute(sa.text("SET LOCAL statement_timeout = '2s'"))
                    data = snapshot(db.session)
                finally:
                    db.session.remove()
        except Exception as error:  # noqa: BLE001 - a scrape must answer even with the database down
            log.warning("domain metrics unavailable: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        outbox = GaugeMetricFamily("yiqi_notifications_outbox", "Subscribe-message outbox rows by status "
                                   "(in flight and failed; sent/skipped are counted by the workers)",
                                   labels=["status"])
        for status, count in data.notifications_by_status.items():
            outbox.add_metric([status], count)
        yield outbox
        claims = GaugeMetricFamily("yiqi_claims_open", "Open claims by state", labels=["status"])
        for status, count in data.open_claims_by_status.items():
            claims.add_metric([status], count)
        yield claims
        refunds = GaugeMetricFamily("yiqi_refunds", "Refunds not completed, by status", labels=["status"])
        refunds_fen = GaugeMetricFamily("yiqi_refunds_fen", "Money in refunds not completed (fen), by status",
                                        labels=["status"])
        for status, (count, fen) in data.refunds_by_status.items():
            refunds.add_metric([status], count)
            refunds_fen.add_metric([status], fen)
        yield refunds
        yield refunds_fen
        done = GaugeMetricFamily("yiqi_apportionment_run_chunks_done", "Chunks executed of an open run",
                                 labels=["plan", "run_id", "status"])
        total = GaugeMetricFamily("yiqi_apportionment_run_chunks_total", "Chunks of an open run",
                                  labels=["plan", "run_id", "status"])
        for run in data.runs:
            labels = [run.plan_code, str(run.run_id), run.status]
            done.add_metric(labels, run.chunks_done)
            total.add_metric(labels, run.chunks_total)
        yield done
        yield total


class _Forward:
    """Re-exposes another registry's metrics in a scrape registry (single-process mode)."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def describe(self):
        return []

    def collect(self):
        return self.registry.collect()


def scrape_registry(*extra_collectors, request_registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """What one scrape shows: in multiprocess mode every process's counters from the shared
    directory; otherwise this process's (and the app's request metrics); plus `extra_collectors`."""
    registry = CollectorRegistry()
    if multiprocess_mode():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
        if request_registry is not None:
            registry.register(_Forward(request_registry))
    for collector in extra_collectors:
        registry.register(collector)
    return registry


def init_app(app: Flask) -> None:
    """Request metrics by endpoint and `GET /metrics` (not in the OpenAPI document: not JSON)."""
    from prometheus_flask_exporter import PrometheusMetrics

    # Per app (tests build many apps in one process); grouped by endpoint name, never by path
    # (paths carry ids and the sponsor token).
    request_registry = CollectorRegistry()
    PrometheusMetrics(app, path=None, registry=request_registry, group_by="endpoint",
                      excluded_paths=["^/metrics$"])
    registry = scrape_registry(DomainCollector(app), request_registry=request_registry)

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def serve_process_metrics(port: int | None, host: str = "0.0.0.0") -> bool:
    """Workers and the scheduler: this process's counters on http://host:port/ (no port: nothing)."""
    if not port:
        return False
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=scrape_registry())
    log.info("metrics served on port %s", port)
    return True
