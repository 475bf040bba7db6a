"""Scheduled jobs: on the cadence's cut-off days, prepare and publish a run for every plan with
cases waiting; execute runs due. Plain functions (app/jobs/schedule.py runs them); safe to call
many times a day: a plan with an open run, or a run already cut off that China day, is skipped.

Execution in parallel: with Redis configured, a due run is started (its chunks fixed) and each
pending chunk handed to the RQ queue `apportionment` as its own job (run_chunk_job), which any
number of `flask apportion work` processes, on one host or many, run at once; the job that
finds every chunk done settles the run. Without Redis the scheduler executes the run inline."""
from __future__ import annotations

import datetime as dt

from flask import Flask, current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApportionmentRun, ApportionmentRunChunk, Plan
from app.services import apportionment
from app.services.clock import CHINA_TZ, china_date
from app.services.errors import Conflict
from app.services.unit_of_work import reading

QUEUE_NAME = "apportionment"
JOB_TIMEOUT_SECONDS = 3600  # a chunk of 100,000 members takes seconds; RQ must never kill one mid-way
_LIVE_JOB_STATUSES = ("queued", "started", "deferred", "scheduled")


def is_cut_off_day(now: dt.datetime, days_of_month) -> bool:
    return china_date(now).day in tuple(days_of_month)


def prepare_and_publish_due(session: Session, now: dt.datetime, *, days_of_month=(1, 16),
                            chunk_size: int = apportionment.DEFAULT_CHUNK_SIZE) -> dict[str, int | str]:
    """Per plan code: the published run id, or why none was made."""
    if not is_cut_off_day(now, days_of_month):
        return {}
    day_start = dt.datetime.combine(china_date(now), dt.time(0), CHINA_TZ)
    outcome: dict[str, int | str] = {}
    for plan_id, code in session.execute(select(Plan.id, Plan.code).order_by(Plan.id)).all():
        already = session.execute(select(ApportionmentRun.id).where(
            ApportionmentRun.plan_id == plan_id, ApportionmentRun.status != "cancelled",
            ApportionmentRun.cut_off_at >= day_start)).first()
        if already:
            outcome[code] = "already_prepared_today"
            continue
        try:
            run = apportionment.prepare(session, code, now, chunk_size=chunk_size)
            outcome[code] = apportionment.publish(session, run.id, now).id
        except Conflict as exc:
            outcome[code] = exc.code
    return outcome


def execute_due(session: Session, now: dt.datetime, *, notice: dt.timedelta, grace_days: int,
                hand_out=None) -> list[int]:
    """Execute every run published at least `notice` ago, and resume any left 'executing' by a
    crash. Members see the share before they pay it; execution itself is idempotent. With
    `hand_out` (Redis configured: hand_out_chunks), the chunks go to the workers instead."""
    with reading(session):  # no transaction held open across the chunks
        due = session.execute(select(ApportionmentRun.id).where(
            (ApportionmentRun.status == "executing")
            | ((ApportionmentRun.status == "published") & (ApportionmentRun.published_at <= now - notice))
        ).order_by(ApportionmentRun.id)).scalars().all()
        unannounced = apportionment.unannounced_runs(session)  # a crash between settling and announcing
    for run_id in unannounced:
        apportionment.announce_executed(session, run_id)
    if hand_out is not None:
        for run_id in due:
            hand_out(run_id, now)
        return list(due)
    return [apportionment.execute(session, run_id, now, grace_days=grace_days).id for run_id in due]


def _job_id(run_id: int, lo: int) -> str:
    return f"apportionment-run-{run_id}-chunk-{lo}"


def hand_out_chunks(app: Flask, run_id: int, now: dt.datetime) -> int:
    """Start the run (its chunks fixed, once) and enqueue a job for each pending chunk that has no
    live job yet (the scheduler calls this every few minutes while a run executes: a job lost
    with a killed worker is handed out again). Returns the jobs enqueued. Without Redis: the run
    is executed inline here."""
    from app.extensions import db
    from app.jobs import queue
    from app.logs import current_request_id, new_request_id

    rq_queue = queue(app, QUEUE_NAME)
    if rq_queue is None:
        apportionment.execute(db.session, run_id, now, grace_days=app.config["SUSPENSION_GRACE_DAYS"])
        return 0
    apportionment.start(db.session, run_id, now)
    with reading(db.session):
        pending = db.session.execute(select(ApportionmentRunChunk.lo).where(
            ApportionmentRunChunk.run_id == run_id, ApportionmentRunChunk.status == "pending")
            .order_by(ApportionmentRunChunk.lo)).scalars().all()
    if not pending:  # every chunk done (or none to do): settle here
        apportionment.settle_if_done(db.session, run_id, now)
        return 0
    enqueued = 0
    for lo in pending:
        live = rq_queue.fetch_job(_job_id(run_id, lo))
        if live is not None and live.get_status(refresh=True) in _LIVE_JOB_STATUSES:
            continue
        rq_queue.enqueue(run_chunk_job, run_id, lo, now.isoformat(), job_id=_job_id(run_id, lo),
                         job_timeout=JOB_TIMEOUT_SECONDS, result_ttl=600, failure_ttl=24 * 3600,
                         meta={"request_id": current_request_id() or new_request_id()})
        enqueued += 1
    return enqueued


def run_chunk(app: Flask, run_id: int, lo: int, now: dt.datetime) -> str:
    """One chunk (waiting for whoever holds it; nothing when it is done already), then settle the
    run if that was the last. Returns the run's status."""
    from app.extensions import db

    apportionment.run_chunk(db.session, run_id, lo=lo, wait=True, grace_days=app.config["SUSPENSION_GRACE_DAYS"])
    settled = apportionment.settle_if_done(db.session, run_id, now)
    return settled.status if settled is not None else "executing"


_worker_app: Flask | None = None


def run_chunk_job(run_id: int, lo: int, now_iso: str) -> str:
    """The RQ job (`flask apportion work` has the app context; a bare `rq worker` builds the app once)."""
    global _worker_app
    from app.extensions import db

    now = dt.datetime.fromisoformat(now_iso)
    if has_app_context():
        return run_chunk(current_app._get_current_object(), run_id, lo, now)
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            return run_chunk(_worker_app, run_id, lo, now)
        finally:
            db.session.remove()
