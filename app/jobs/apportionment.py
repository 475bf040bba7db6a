"""Scheduled job: on the cadence's cut-off days, prepare and publish a run for every plan with
cases waiting. A plain function (app/jobs/schedule.py runs it); safe to call many
times a day: a plan with an open run, or a run already cut off that China day, is skipped."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApportionmentRun, Plan
from app.services import apportionment
from app.services.clock import CHINA_TZ, china_date
from app.services.errors import Conflict
from app.services.unit_of_work import reading


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


def execute_due(session: Session, now: dt.datetime, *, notice: dt.timedelta, grace_days: int) -> list[int]:
    """Execute every run published at least `notice` ago, and resume any left 'executing' by a
    crash. Members see the share before they pay it; execution itself is idempotent."""
    with reading(session):  # no transaction held open across the chunks
        due = session.execute(select(ApportionmentRun.id).where(
            (ApportionmentRun.status == "executing")
            | ((ApportionmentRun.status == "published") & (ApportionmentRun.published_at <= now - notice))
        ).order_by(ApportionmentRun.id)).scalars().all()
    return [apportionment.execute(session, run_id, now, grace_days=grace_days).id for run_id in due]
