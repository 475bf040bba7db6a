"""Scheduled jobs: on the cadence's cut-off days, prepare and publish a run for every plan with
cases waiting; execute runs due. Plain functions (app/jobs/schedule.py runs them); safe to call
many times a day: a plan with an open run, or a run already cut off that China day, is skipped.

Execution in parallel: with Redis configured, a due run is started (its chunks fixed) and each
pending chunk handed to the RQ queue `apportionment` as its own job (run_chunk_job), which any
number of `flask apportion work` processes, on one host or many, run at once; the job that
finds every chunk done settles the run and hands out its notice parts (notice_part_job), written
side by side the same way. Without Redis the scheduler executes the run inline."""
from __future__ import annotations

import datetime as dt

from flask import Flask, current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApportionmentRun, ApportionmentRunChunk, Plan, RunNoticePart
from app.services import apportionment, outbox
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
                hand_out=None, hand_out_notices=None) -> list[int]:
    """Execute every run published at least `notice` ago, and resume any left 'executing' by a
    crash; announce executed runs a crash left unannounced and write notice parts left pending.
    Members see the share before they pay it; execution itself is idempotent. With `hand_out` and
    `hand_out_notices` (Redis configured: hand_out_chunks, hand_out_notice_parts), the chunks and
    notice parts go to the workers instead."""
    with reading(session):  # no transaction held open across the chunks
        due = session.execute(select(ApportionmentRun.id).where(
            (ApportionmentRun.status == "executing")
            | ((ApportionmentRun.status == "published") & (ApportionmentRun.published_at <= now - notice))
        ).order_by(ApportionmentRun.id)).scalars().all()
        unannounced = apportionment.unannounced_runs(session)  # a crash between settling and announcing
    for run_id in unannounced:
        apportionment.announce_executed(session, run_id)
    for run_id in outbox.runs_with_pending_notices(session):  # notice parts whose writers died
        if hand_out_notices is not None:
            hand_out_notices(run_id)
        else:
            apportionment.write_notices(session, run_id)
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
    with a killed worker is handed out again). Returns the chunk jobs enqueued. With every chunk
    done: the run is settled here and its notice parts handed out. Without Redis: the run is
    executed inline here."""
    from app.extensions import db
    from app.jobs import queue

    rq_queue = queue(app, QUEUE_NAME)
    if rq_queue is None:
        apportionment.execute(db.session, run_id, now, grace_days=app.config["SUSPENSION_GRACE_DAYS"])
        return 0
    apportionment.start(db.session, run_id, now)
    with reading(db.session):
        pending = db.session.execute(select(ApportionmentRunChunk.lo).where(
            ApportionmentRunChunk.run_id == run_id, ApportionmentRunChunk.status == "pending")
            .order_by(ApportionmentRunChunk.lo)).scalars().all()
    if not pending:  # every chunk done (or none to do): settle here, then the notice parts to the workers
        if apportionment.settle_if_done(db.session, run_id, now) is not None:
            hand_out_notice_parts(app, run_id)
        return 0
    return sum(_enqueue_unless_live(rq_queue, _job_id(run_id, lo), run_chunk_job, run_id, lo, now.isoformat())
               for lo in pending)


def _enqueue_unless_live(rq_queue, job_id: str, job, *args) -> int:
    """Enqueue `job(*args)` under `job_id` unless a job of that id is queued or running (the scheduler
    hands work out again every few minutes: only work whose job was lost gets a second one). 1 if
    enqueued."""
    from app.logs import current_request_id, new_request_id

    live = rq_queue.fetch_job(job_id)
    if live is not None and live.get_status(refresh=True) in _LIVE_JOB_STATUSES:
        return 0
    rq_queue.enqueue(job, *args, job_id=job_id, job_timeout=JOB_TIMEOUT_SECONDS, result_ttl=600,
                     failure_ttl=24 * 3600, meta={"request_id": current_request_id() or new_request_id()})
    return 1


def run_chunk(app: Flask, run_id: int, lo: int, now: dt.datetime) -> str:
    """One chunk (waiting for whoever holds it; nothing when it is done already), then settle the
    run if that was the last, and hand out its notice parts. Returns the run's status."""
    from app.extensions import db

    apportionment.run_chunk(db.session, run_id, lo=lo, wait=True, grace_days=app.config["SUSPENSION_GRACE_DAYS"])
    settled = apportionment.settle_if_done(db.session, run_id, now)
    if settled is None:
        return "executing"
    hand_out_notice_parts(app, run_id)
    return settled.status


def _notices_job_id(run_id: int, lo: int) -> str:
    return f"apportionment-run-{run_id}-notices-{lo}"


def hand_out_notice_parts(app: Flask, run_id: int) -> int:
    """Enqueue a job for each pending notice part of the run that has no live job yet (the workers
    write them side by side); without Redis, write them here. Returns the jobs enqueued."""
    from app.extensions import db
    from app.jobs import queue

    rq_queue = queue(app, QUEUE_NAME)
    if rq_queue is None:
        apportionment.write_notices(db.session, run_id)
        return 0
    with reading(db.session):
        pending = db.session.execute(select(RunNoticePart.lo).where(
            RunNoticePart.run_id == run_id, RunNoticePart.status == "pending").order_by(RunNoticePart.lo)).scalars().all()
    return sum(_enqueue_unless_live(rq_queue, _notices_job_id(run_id, lo), notice_part_job, run_id, lo)
               for lo in pending)


_worker_app: Flask | None = None


def notice_part_job(run_id: int, lo: int) -> int:
    """The RQ job for one notice part (nothing when it is done, or held by another writer who will)."""
    from app.extensions import db

    return _in_worker_app(lambda app: outbox.write_run_notice_part(db.session, run_id, lo=lo) or 0)


def run_chunk_job(run_id: int, lo: int, now_iso: str) -> str:
    """The RQ job for one chunk."""
    now = dt.datetime.fromisoformat(now_iso)
    return _in_worker_app(lambda app: run_chunk(app, run_id, lo, now))


def _in_worker_app(work):
    """Run work(app) in the app: `flask apportion work` has the app context; a bare `rq worker` builds
    the app once."""
    global _worker_app
    from app.extensions import db

    if has_app_context():
        return work(current_app._get_current_object())
    if _worker_app is None:
        from app import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            return work(_worker_app)
        finally:
            db.session.remove()
