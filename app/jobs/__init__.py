"""Background jobs: notification chunks on RQ (Redis) or, without REDIS_URL, run inline.

One RQ job carries one chunk of notification ids (NOTIFICATION_CHUNK_SIZE, 500 by default): never
one job per member. Workers are `flask notifications work` (an RQ SimpleWorker inside the app, so the
WeChat client and its HTTP connections are reused across jobs)."""
from __future__ import annotations

from flask import Flask, current_app, has_app_context

from app.container import container_of
from app.extensions import db
from app.logs import current_request_id, new_request_id, request_id_bound
from app.services import delivery

QUEUE_NAME = "notifications"
JOB_TIMEOUT_SECONDS = 3000  # longer than the lease (NOTIFICATION_LEASE_SECONDS): RQ never kills a chunk still leased


def policy_of(app: Flask) -> delivery.Policy:
    cfg = app.config
    return delivery.Policy(lease_seconds=cfg["NOTIFICATION_LEASE_SECONDS"],
                           max_attempts=cfg["NOTIFICATION_MAX_ATTEMPTS"], chunk_size=cfg["NOTIFICATION_CHUNK_SIZE"])


def deliver(app: Flask, ids: list[int], token: str) -> delivery.ChunkResult:
    from app.metrics import NOTIFICATIONS_DELIVERED

    services = container_of(app)
    result = delivery.deliver_chunk(db.session, services.mini_program, services.subscribe_templates, ids, token,
                                    clock=services.clock, policy=policy_of(app))
    for outcome, count in result.outcomes.items():
        NOTIFICATIONS_DELIVERED.labels(outcome).inc(count)
    return result


_worker_app: Flask | None = None


def deliver_chunk_job(ids: list[int], token: str) -> dict:
    """The RQ job. In `flask notifications work` the app context is already there; a bare
    `rq worker` builds the app once per process."""
    global _worker_app
    if has_app_context():
        return dict(deliver(current_app._get_current_object(), ids, token).outcomes)
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            return dict(deliver(_worker_app, ids, token).outcomes)
        finally:
            db.session.remove()


def queue(app: Flask, name: str = QUEUE_NAME):
    """The RQ queue (notifications unless named), or None without Redis."""
    redis = container_of(app).redis
    if redis is None:
        return None
    from rq import Queue

    return Queue(name, connection=redis)


def enqueuer(app: Flask) -> delivery.Enqueue:
    """RQ when Redis is configured; otherwise the same delivery code, inline."""
    rq_queue = queue(app)
    if rq_queue is None:
        return lambda ids, token: deliver(app, ids, token)
    # The job carries the request id of the work that handed it over (a scheduler task, a command).
    return lambda ids, token: rq_queue.enqueue(deliver_chunk_job, ids, token, job_timeout=JOB_TIMEOUT_SECONDS,
                                               result_ttl=60, failure_ttl=24 * 3600,
                                               meta={"request_id": current_request_id() or new_request_id()})


def dispatch(app: Flask, now=None, max_chunks: int | None = None) -> int:
    services = container_of(app)
    return delivery.dispatch(db.session, enqueuer(app), now=now or services.clock.now(), policy=policy_of(app),
                             max_chunks=max_chunks)


def work(app: Flask, burst: bool = False, name: str = QUEUE_NAME) -> None:
    """Run an RQ worker in this process (SimpleWorker: no fork per job) on the named queue."""
    rq_queue = queue(app, name)
    if rq_queue is None:
        raise RuntimeError("REDIS_URL is not set: notifications are delivered inline by `flask notifications dispatch`"
                           if name == QUEUE_NAME else "REDIS_URL is not set: runs execute inline")
    _request_id_worker_class()([rq_queue], connection=rq_queue.connection).work(
        burst=burst, with_scheduler=False, logging_level="WARNING")


def _request_id_worker_class():
    from rq import SimpleWorker

    class RequestIdWorker(SimpleWorker):
        """Runs each job with the request id from its meta bound, so its log lines (and its WeChat
        calls') carry the id of the request or task that enqueued it."""

        def perform_job(self, job, queue):
            with request_id_bound(job.meta.get("request_id")):
                return super().perform_job(job, queue)

    return RequestIdWorker
