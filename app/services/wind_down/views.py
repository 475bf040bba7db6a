"""What the public and the console see of a wind-down: its progress, the plan's status, the closing report."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Account, BalanceReturn, FinancialReport, Plan, PlanWindDown

from ..errors import NotFound
from ..plans import fen_to_yuan_text, get_plan
from .guards import CLOSING_REPORT_PERIOD, SURPLUS_RULE_TEXT, confirmed_wind_down


@dataclass(frozen=True)
class Progress:
    members_total: int
    refunded: int  # returns finished (every fen back)
    pending: int  # not finished yet (waiting, or on their way)
    failed: int
    returned_fen: int
    remaining_fen: int  # still to go back: balances not yet processed + processed but not yet confirmed


def progress(session: Session, plan_id: int) -> Progress:
    """One grouped query over the plan's returns (and, before they exist, the balances they will return)."""
    rows = dict((status, (n, amount, returned)) for status, n, amount, returned in session.execute(
        select(BalanceReturn.status, func.count(), func.coalesce(func.sum(BalanceReturn.amount_fen), 0),
               func.coalesce(func.sum(BalanceReturn.returned_fen), 0))
        .where(BalanceReturn.plan_id == plan_id, BalanceReturn.reason == "wind_down")
        .group_by(BalanceReturn.status)).all())
    total = sum(n for n, _, _ in rows.values())
    returned = sum(int(r) for _, _, r in rows.values())
    unprocessed = session.execute(select(func.coalesce(func.sum(Account.balance_fen + BalanceReturn.surplus_fen), 0))
                                  .join(BalanceReturn, BalanceReturn.membership_id == Account.membership_id)
                                  .where(BalanceReturn.plan_id == plan_id, BalanceReturn.status == "pending",
                                         BalanceReturn.reason == "wind_down")).scalar_one()
    processed_left = sum(int(a) - int(r) for s, (_, a, r) in rows.items() if s != "pending")
    if not rows:  # before the returns start: what the members hold
        unprocessed = session.execute(select(func.coalesce(func.sum(Account.balance_fen), 0)).where(
            Account.plan_id == plan_id, Account.kind == "member")).scalar_one()
    return Progress(members_total=total, refunded=rows.get("done", (0,))[0], failed=rows.get("failed", (0,))[0],
                    pending=rows.get("pending", (0,))[0] + rows.get("returning", (0,))[0],
                    returned_fen=returned, remaining_fen=int(unprocessed) + processed_left)


def plan_status(found: PlanWindDown | None) -> str:
    if found is None or found.status == "proposed":
        return "open"
    return "closed" if found.status == "closed" else "closing"


def public_view(session: Session, plan_code: str) -> dict | None:
    plan, _ = get_plan(session, plan_code)
    found = confirmed_wind_down(session, plan.id)
    if found is None:
        return None
    figures = progress(session, plan.id)
    notes = [f"自{found.closing_date:%Y年%m月%d日}起停止运行，不再接受加入"]
    if found.status in ("announced", "final_run"):
        notes.append("已申请的互助案件按正常流程办结，最后一期分摊筹集它们的互助金；之后所有余额退回")
    if found.surplus_fen:
        notes.append(f"计划结余{fen_to_yuan_text(found.surplus_fen)}按余额比例随余额一起退回")
    return {
        "plan_code": plan.code, "status": found.status, "closing_date": found.closing_date,
        "announced_at": found.announced_at, "joins_open": False,
        "claims_text": (f"{found.closing_date:%Y年%m月%d日}及之前发生的事件仍可按规则申请互助，"
                        f"之后发生的事件不在互助范围内"),
        "progress": vars(figures), "surplus_rule_text": SURPLUS_RULE_TEXT,
        "surplus_fen": found.surplus_fen,
        "closing_report_url": (f"/api/v1/plans/{plan.code}/wind-down/report" if found.status == "closed" else None),
        "closing_report_sha256": found.closing_report_sha256,
        "notes": notes,
    }


def statuses(session: Session) -> dict[int, PlanWindDown]:
    """Per plan id, its confirmed wind-down (for the plan list)."""
    return {w.plan_id: w for w in session.execute(select(PlanWindDown).where(
        PlanWindDown.status != "proposed")).scalars()}


def for_plan(session: Session, plan_code: str) -> tuple[Plan, PlanWindDown | None]:
    plan, _ = get_plan(session, plan_code)
    return plan, session.execute(select(PlanWindDown).where(PlanWindDown.plan_id == plan.id)).scalar_one_or_none()


def closing_report_of(session: Session, plan_code: str) -> dict:
    plan, _ = get_plan(session, plan_code)
    stored = session.execute(select(FinancialReport).where(
        FinancialReport.plan_id == plan.id, FinancialReport.period == CLOSING_REPORT_PERIOD)).scalar_one_or_none()
    if stored is None:
        raise NotFound("这个计划还没有停止报告", code="not_found")
    return {"sha256": stored.sha256, "report": json.loads(stored.body),
            "verified": hashlib.sha256(stored.body.encode()).hexdigest() == stored.sha256}
