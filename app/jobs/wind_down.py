"""A plan's wind-down on RQ: chunks of balance returns (WIND_DOWN_CHUNK_SIZE each) on the `wind_down`
queue, worked by `flask wind-down work` (an RQ SimpleWorker inside the app, like notifications); without
Redis each chunk runs inline. WeChat Pay calls are paced across every worker by a per-second counter in
Redis (WIND_DOWN_CALLS_PER_SECOND), in process memory without Redis.

A chunk killed mid-way loses nothing: each return is one transaction, WeChat is asked with our own
numbers (same out_refund_no / out_bill_no on every retry), and the scheduler's `wind_down.advance`
hands the chunk's pending returns out again after the lease and resubmits what was left unsent."""
from __future__ import annotations

import datetime as dt
import time
from typing import Callable

from flask import Flask, current_app, has_app_context

from app.container import container_of
from app.extensions import db
from app.logs import current_request_id, new_request_id
from app.services import wind_down

QUEUE_NAME = "wind_down"
JOB_TIMEOUT_SECONDS = 3000


class Pacer:
    """At most `per_second` calls in each wall-clock second, shared through Redis when given."""

    def __init__(self, per_second: int, redis=None, *, wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, key: str = "yiqi:wind_down:calls"):
        self.per_second, self.redis, self.wall, self.sleep, self.key = per_second, redis, wall, sleep, key
        self._second, self._count = None, 0

    def _take(self, second: int) -> int:
        if self.redis is not None:
            name = f"{self.key}:{second}"
            pipe = self.redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, 5)
            return int(pipe.execute()[0])
        if second != self._second:
            self._second, self._count = second, 0
        self._count += 1
        return self._count

    def __call__(self) -> None:
        while True:
            now = self.wall()
            if self._take(int(now)) <= self.per_second:
                return
            self.sleep(int(now) + 1 - now)


def pacer_of(app: Flask) -> Pacer:
    return Pacer(app.config["WIND_DOWN_CALLS_PER_SECOND"], container_of(app).redis)


def run_chunk(app: Flask, ids: list[int]) -> dict:
    services = container_of(app)
    return wind_down.process_chunk(db.session, services.pay, ids, services.clock.now(), pace=pacer_of(app))


_worker_app: Flask | None = None


def process_chunk_job(ids: list[int]) -> dict:
    global _worker_app
    if has_app_context():  # `flask wind-down work`: one app context for every job
        try:
            return run_chunk(current_app._get_current_object(), ids)
        finally:
            db.session.remove()  # nothing carried from one chunk to the next (all committed)
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            return run_chunk(_worker_app, ids)
        finally:
            db.session.remove()


def queue(app: Flask):
    redis = container_of(app).redis
    if redis is None:
        return None
    from rq import Queue

    return Queue(QUEUE_NAME, connection=redis)


def enqueuer(app: Flask) -> Callable[[list[int]], object]:
    rq_queue = queue(app)
    if rq_queue is None:
        return lambda ids: run_chunk(app, ids)
    return lambda ids: rq_queue.enqueue(process_chunk_job, ids, job_timeout=JOB_TIMEOUT_SECONDS, result_ttl=60,
                                        failure_ttl=24 * 3600,
                                        meta={"request_id": current_request_id() or new_request_id()})


def advance(app: Flask, now: dt.datetime | None = None) -> dict[str, str]:
    """The scheduler's task: every closing plan one step on; unsent refunds/transfers asked again; the
    transfers waiting for the payer's confirmation asked about."""
    from app.services import balance_returns

    services = container_of(app)
    now = now or services.clock.now()
    outcome = wind_down.advance(db.session, now, enqueuer(app), chunk_size=app.config["WIND_DOWN_CHUNK_SIZE"],
                                lease=dt.timedelta(seconds=app.config["WIND_DOWN_LEASE_SECONDS"]))
    balance_returns.process_open_transfers(db.session, services.pay, now)
    for plan_id in wind_down.refunding_plan_ids(db.session):
        wind_down.resubmit(db.session, services.pay, plan_id, now, pace=pacer_of(app))
    # Settled since the step above: close what is now complete.
    for wind_down_id in wind_down.refunding_ids(db.session):
        wind_down.finish_if_done(db.session, wind_down_id, now)
    return outcome


def work(app: Flask, burst: bool = False) -> None:
    from app.jobs import _request_id_worker_class

    rq_queue = queue(app)
    if rq_queue is None:
        raise RuntimeError("REDIS_URL is not set: returns run inline in `flask wind-down advance`")
    _request_id_worker_class()([rq_queue], connection=rq_queue.connection).work(
        burst=burst, with_scheduler=False, logging_level="WARNING")
