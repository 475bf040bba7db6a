"""What a closing plan refuses: new joins, and claims for incidents after its closing date (memberships
and claims call these); the rules' constants."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanWindDown

from ..errors import Conflict

CLOSING_REPORT_PERIOD = "closing"  # financial_reports.period of a plan's closing report
SURPLUS_RULE_TEXT = ("计划结余（历次分摊多收的零头）按停止日当天结束时各成员余额的比例分给仍持有余额的成员，"
                     "分到的钱随余额一起退回；按比例计算后剩下的几分钱，依次给余数最大的成员")
DEFAULT_LEASE = dt.timedelta(minutes=10)


def confirmed_wind_down(session: Session, plan_id: int) -> PlanWindDown | None:
    return session.execute(select(PlanWindDown).where(
        PlanWindDown.plan_id == plan_id, PlanWindDown.status != "proposed")).scalar_one_or_none()


def check_joins_open(session: Session, plan_id: int) -> None:
    found = confirmed_wind_down(session, plan_id)
    if found is not None:
        raise Conflict(f"这个互助计划将于{found.closing_date:%Y年%m月%d日}停止运行，不再接受加入", code="plan_closing",
                       details={"closing_date": found.closing_date.isoformat()})


def check_claim_allowed(session: Session, plan_id: int, incident_date: dt.date) -> None:
    found = confirmed_wind_down(session, plan_id)
    if found is not None and (incident_date > found.closing_date or found.status in ("refunding", "closed")):
        raise Conflict(f"这个互助计划已于{found.closing_date:%Y年%m月%d日}停止运行，此后发生的事件不在互助范围内",
                       code="plan_closing", details={"closing_date": found.closing_date.isoformat()})
