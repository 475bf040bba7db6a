"""Two operators start a wind-down: one proposes, finance (another operator) confirms; a proposal not
confirmed yet may be withdrawn."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Operator, PlanWindDown

from .. import events, rule_changes
from ..clock import china_date
from ..errors import Conflict, Forbidden, InvalidRequest, NotFound
from ..operators import record_audit, require_role
from ..plans import get_plan
from ..unit_of_work import atomic


def propose(session: Session, operator: Operator, plan_code: str, closing_date: dt.date,
            now: dt.datetime) -> PlanWindDown:
    require_role(operator, "reviewer", "finance")
    if closing_date < china_date(now):
        raise InvalidRequest("停止日期不能早于今天", code="closing_date_invalid")
    with atomic(session):
        plan, _ = get_plan(session, plan_code)
        existing = session.execute(select(PlanWindDown).where(PlanWindDown.plan_id == plan.id)
                                   .with_for_update()).scalar_one_or_none()
        if existing is not None:
            raise Conflict("这个计划已经在停止流程中", code="wind_down_exists", details={"status": existing.status})
        found = PlanWindDown(plan_id=plan.id, status="proposed", closing_date=closing_date,
                             proposed_by_operator_id=operator.id, proposed_at=now, surplus_fen=0)
        session.add(found)
        session.flush()
        record_audit(session, operator_id=operator.id, action="wind_down.proposed", target_type="plan",
                     target_id=plan.id, after={"closing_date": closing_date.isoformat()}, now=now)
    return found


def confirm(session: Session, operator: Operator, plan_code: str, now: dt.datetime) -> PlanWindDown:
    """Finance confirms another operator's proposal: the plan is closing from now on."""
    require_role(operator, "finance")
    with atomic(session):
        plan, _ = get_plan(session, plan_code)
        found = _for_update(session, plan.id)
        if found.status != "proposed":
            raise Conflict("这个停止计划已经确认过了", code="wind_down_not_proposed", details={"status": found.status})
        if found.proposed_by_operator_id == operator.id:
            raise Forbidden("停止计划的提出和确认必须由不同的人完成", code="separation_of_duties",
                            details={"duty": "finance"})
        if found.closing_date < china_date(now):
            raise InvalidRequest("停止日期已经过去，请撤回后重新提出", code="closing_date_invalid")
        found.status, found.confirmed_by_operator_id, found.announced_at = "announced", operator.id, now
        rule_changes.withdraw_for_wind_down(session, plan.id, found.closing_date, now, operator_id=operator.id)
        record_audit(session, operator_id=operator.id, action="wind_down.confirmed", target_type="plan",
                     target_id=plan.id, after={"closing_date": found.closing_date.isoformat()}, now=now)
        events.record(session, "plan.closing", now=now, plan_id=plan.id,
                      payload={"closing_date": found.closing_date.isoformat()})
    return found


def withdraw(session: Session, operator: Operator, plan_code: str, now: dt.datetime) -> None:
    """A proposal not confirmed yet may be withdrawn (by any operator who may propose)."""
    require_role(operator, "reviewer", "finance")
    with atomic(session):
        plan, _ = get_plan(session, plan_code)
        found = _for_update(session, plan.id)
        if found.status != "proposed":
            raise Conflict("已确认的停止计划不能撤回", code="wind_down_not_proposed", details={"status": found.status})
        session.delete(found)
        record_audit(session, operator_id=operator.id, action="wind_down.withdrawn", target_type="plan",
                     target_id=plan.id, now=now)


def _for_update(session: Session, plan_id: int) -> PlanWindDown:
    found = session.execute(select(PlanWindDown).where(PlanWindDown.plan_id == plan_id)
                            .with_for_update()).scalar_one_or_none()
    if found is None:
        raise NotFound("这个计划没有停止计划", code="not_found")
    return found
