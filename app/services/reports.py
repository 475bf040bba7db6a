"""Financial reports per plan and period, computed from the ledger set-based: one grouped query
over postings (by account kind, transaction reason, before/during the period, own/sponsored),
a few more aggregates, and arithmetic on those small results — never a Python pass over postings.

Each ledger transaction belongs to one plan: the plan of its plan-scoped accounts (member, pool,
surplus, aid payable); a refund's completion touches only system accounts and takes its plan from
the refund's membership. So the system account `refund_pending` is split by plan too.

The custody identity, per plan, cumulative at the period's end (domain.md, "Money and custody"):
  money received − money returned − aid paid − fees
    = member balances + surplus + aid payable (+ a run's pool mid-run + refunds on their way).

A month (China time) that has ended is frozen on first use: its canonical JSON is stored with
its SHA-256 and appended to the plan's hash chain; it is served from storage ever after."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import ApportionmentRun, FinancialReport, Plan, UTCDateTime

from .clock import CHINA_TZ
from .errors import Conflict, InvalidRequest
from .plans import get_plan
from .transparency import append_record
from .unit_of_work import atomic

REPORT_VERSION = 1
HELD_KINDS = ("member", "plan_pool", "plan_surplus", "aid_payable", "refund_pending")
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_DT = UTCDateTime()

# Every transaction's plan (see the module doc); only transactions before the end matter.
_TXN_PLAN = """
  SELECT t.id, t.reason, t.created_at, t.initiated_by_user_id,
         COALESCE((SELECT MAX(a.plan_id) FROM postings p JOIN accounts a ON a.id = p.account_id
                    WHERE p.transaction_id = t.id),
                  (SELECT m.plan_id FROM refunds r JOIN memberships m ON m.id = r.membership_id
                    WHERE t.reference_type = 'refund' AND CAST(r.id AS TEXT) = t.reference_id),
                  (SELECT m.plan_id FROM return_transfers x JOIN memberships m ON m.id = x.membership_id
                    WHERE t.reference_type = 'return_transfer' AND x.out_bill_no = t.reference_id)) AS plan_id
    FROM ledger_transactions t WHERE t.created_at < :end"""

_FLOWS = f"""
WITH txn_plan AS ({_TXN_PLAN})
SELECT kind, reason, during, sponsored, SUM(amount_fen) AS total, COUNT(*) AS n FROM (
  SELECT a.kind, tp.reason, p.amount_fen,
         CASE WHEN tp.created_at < :start THEN 0 ELSE 1 END AS during,
         CASE WHEN a.kind = 'member' AND tp.reason = 'topup' AND tp.initiated_by_user_id IS NOT NULL
                   AND tp.initiated_by_user_id <> m.user_id THEN 1 ELSE 0 END AS sponsored
    FROM txn_plan tp JOIN postings p ON p.transaction_id = tp.id JOIN accounts a ON a.id = p.account_id
    LEFT JOIN memberships m ON m.id = a.membership_id
   WHERE tp.plan_id = :plan) legs
 GROUP BY kind, reason, during, sponsored"""

_MEMBERS_WITH_BALANCE = """
SELECT COUNT(*) FROM (
  SELECT p.account_id FROM postings p JOIN accounts a ON a.id = p.account_id
    JOIN ledger_transactions t ON t.id = p.transaction_id
   WHERE a.kind = 'member' AND a.plan_id = :plan AND t.created_at < :end
   GROUP BY p.account_id HAVING SUM(p.amount_fen) > 0) held"""


def month_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of a calendar month in China time."""
    match = _PERIOD.match(period or "")
    if not match:
        raise InvalidRequest("月份格式应为 YYYY-MM", code="period_invalid", details={"period": period})
    year, month = int(match[1]), int(match[2])
    start = dt.datetime(year, month, 1, tzinfo=CHINA_TZ)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CHINA_TZ)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def _params(statement: str, **moments) -> text:
    return text(statement).bindparams(*[bindparam(k, v, type_=_DT) for k, v in moments.items()])


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def compute(session: Session, plan_code: str, start: dt.datetime, end: dt.datetime) -> dict:
    """The report of [start, end) for a plan, from the ledger and the runs' frozen numbers."""
    if start >= end:
        raise InvalidRequest("开始时间必须早于结束时间", code="range_invalid")
    plan, _ = get_plan(session, plan_code)
    rows = session.execute(_params(_FLOWS, start=start, end=end), {"plan": plan.id}).all()

    def total(kind=None, reason=None, during=None, sponsored=None) -> int:
        return sum(int(r.total) for r in rows
                   if (kind is None or r.kind == kind) and (reason is None or r.reason == reason)
                   and (during is None or r.during == during) and (sponsored is None or r.sponsored == sponsored))

    opening = {k: total(kind=k, during=0) for k in HELD_KINDS}
    closing = {k: total(kind=k) for k in HELD_KINDS}
    flows = {
        "money_received_fen": -total(kind="wechat_pay_in", during=1),
        "topups_own_fen": total(kind="member", reason="topup", during=1, sponsored=0),
        "topups_sponsored_fen": total(kind="member", reason="topup", during=1, sponsored=1),
        "topup_count": sum(int(r.n) for r in rows if r.kind == "member" and r.reason == "topup" and r.during == 1),
        "deductions_fen": -total(kind="member", reason="deduction", during=1),
        "aid_payable_added_fen": total(kind="aid_payable", reason="apportionment_settle", during=1),
        "aid_paid_fen": total(kind="aid_paid_out", during=1),
        "balances_to_refund_fen": -total(kind="member", reason="leave", during=1),
        "refunds_fen": total(kind="refunds_out", during=1),
        "fees_fen": total(kind="fees_out", during=1),
        "surplus_change_fen": closing["plan_surplus"] - opening["plan_surplus"],
    }
    received = -total(kind="wechat_pay_in")
    returned, aid_paid, fees = total(kind="refunds_out"), total(kind="aid_paid_out"), total(kind="fees_out")
    money_side = {"money_received_fen": received, "money_returned_fen": returned, "aid_paid_fen": aid_paid,
                  "fees_fen": fees, "total_fen": received - returned - aid_paid - fees}
    held_side = {"member_balances_fen": closing["member"], "surplus_fen": closing["plan_surplus"],
                 "aid_payable_fen": closing["aid_payable"], "pool_in_run_fen": closing["plan_pool"],
                 "refunds_on_their_way_fen": closing["refund_pending"], "total_fen": sum(closing.values())}
    members_with_balance = session.execute(_params(_MEMBERS_WITH_BALANCE, end=end), {"plan": plan.id}).scalar_one()
    runs = session.execute(select(ApportionmentRun).where(
        ApportionmentRun.plan_id == plan.id, ApportionmentRun.status == "executed",
        ApportionmentRun.executed_at < end).order_by(ApportionmentRun.executed_at, ApportionmentRun.id)).scalars().all()
    return {
        "v": REPORT_VERSION, "plan": plan.code, "plan_name": plan.name, "from": _iso(start), "to": _iso(end),
        "opening": {f"{k}_fen": v for k, v in opening.items()},
        "closing": {f"{k}_fen": v for k, v in closing.items()},
        "members_with_balance_at_close": int(members_with_balance),
        "flows": flows,
        "custody": {"money": money_side, "held": held_side, "balanced": money_side["total_fen"] == held_side["total_fen"]},
        "runs": [_run_line(r) for r in runs if r.executed_at >= start],
        "history": [{"run_id": r.id, "executed_at": _iso(r.executed_at), "payers": r.debited_count,
                     "share_fen": r.share_fen, "aid_collected_fen": r.aid_collected_fen or 0} for r in runs],
    }


def _run_line(run: ApportionmentRun) -> dict:
    return {"run_id": run.id, "executed_at": _iso(run.executed_at), "cases": run.case_count,
            "payers": run.debited_count, "share_fen": run.share_fen, "collected_fen": run.debited_fen,
            "suspended": run.suspended_count, "aid_collected_fen": run.aid_collected_fen,
            "fee_fen": run.fee_collected_fen, "surplus_before_fen": run.surplus_before_fen,
            "surplus_after_fen": run.surplus_after_fen}


def canonical(body: dict) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def monthly(session: Session, plan_code: str, period: str, now: dt.datetime) -> dict:
    """A month's report: frozen (stored, hashed, chained) once the month is over, live before."""
    start, end = month_bounds(period)
    plan, _ = get_plan(session, plan_code)
    if end > now:
        body = compute(session, plan_code, start, end)
        return {"period": period, "frozen": False, "sha256": None, "report": body}
    stored = _frozen(session, plan.id, period)
    if stored is None:
        stored = freeze(session, plan_code, period, now)
    return {"period": period, "frozen": True, "sha256": stored.sha256, "report": json.loads(stored.body)}


def _frozen(session: Session, plan_id: int, period: str) -> FinancialReport | None:
    return session.execute(select(FinancialReport).where(
        FinancialReport.plan_id == plan_id, FinancialReport.period == period)).scalar_one_or_none()


def freeze(session: Session, plan_code: str, period: str, now: dt.datetime) -> FinancialReport:
    """Store a closed month's report with its hash and chain it; once (a second call returns the first)."""
    start, end = month_bounds(period)
    if end > now:
        raise Conflict("这个月还没有结束，报告不能封存", code="period_open", details={"period": period})
    try:
        with atomic(session):
            plan, _ = get_plan(session, plan_code)
            existing = _frozen(session, plan.id, period)
            if existing is not None:
                return existing
            body = canonical({**compute(session, plan_code, start, end), "period": period})
            report = FinancialReport(plan_id=plan.id, period=period, body=body,
                                     sha256=hashlib.sha256(body.encode()).hexdigest(), created_at=now)
            session.add(report)
            session.flush()
            append_record(session, plan.id, now, kind="monthly_report", report_id=report.id,
                          content_sha256=report.sha256)
            return report
    except IntegrityError:  # frozen by a concurrent caller first
        found = _frozen(session, get_plan(session, plan_code)[0].id, period)
        if found is None:
            raise
        return found


def freeze_closed_months(session: Session, now: dt.datetime) -> list[tuple[str, str]]:
    """The previous month of every plan (the scheduler calls this; idempotent)."""
    local = now.astimezone(CHINA_TZ)
    previous = (local.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    done = []
    for code in session.execute(select(Plan.code).order_by(Plan.id)).scalars().all():
        freeze(session, code, previous, now)
        done.append((code, previous))
    return done


def frozen_list(session: Session, plan_code: str) -> list[dict]:
    plan, _ = get_plan(session, plan_code)
    rows = session.execute(select(FinancialReport.period, FinancialReport.sha256, FinancialReport.created_at)
                           .where(FinancialReport.plan_id == plan.id).order_by(FinancialReport.period)).all()
    return [{"period": p, "sha256": h, "frozen_at": at} for p, h, at in rows]


# --- CSV ----------------------------------------------------------------------------------
def csv_lines(report: dict) -> list[list]:
    """section, item, value rows (fen integers); the runs as their own table below."""
    lines = [["section", "item", "value"], ["report", "plan", report["plan"]], ["report", "from", report["from"]],
             ["report", "to", report["to"]]]
    for section in ("opening", "closing", "flows"):
        lines += [[section, k, v] for k, v in sorted(report[section].items())]
    lines.append(["closing", "members_with_balance_at_close", report["members_with_balance_at_close"]])
    for side in ("money", "held"):
        lines += [[f"custody_{side}", k, v] for k, v in report["custody"][side].items()]
    lines.append(["custody", "balanced", str(report["custody"]["balanced"]).lower()])
    columns = ["run_id", "executed_at", "cases", "payers", "share_fen", "collected_fen", "suspended",
               "aid_collected_fen", "fee_fen", "surplus_before_fen", "surplus_after_fen"]
    lines += [[], columns] + [[run[c] for c in columns] for run in report["runs"]]
    return lines



def store_closing_report(session: Session, plan_id: int, body: dict, now: dt.datetime, *,
                         period: str) -> FinancialReport:
    """A closing plan's report (app/services/wind_down), inside the caller's transaction: stored with its SHA-256
    and chained like a frozen month (`flask transparency verify` checks its hash the same way)."""
    existing = _frozen(session, plan_id, period)
    if existing is not None:
        return existing
    text_body = canonical(body)
    report = FinancialReport(plan_id=plan_id, period=period, body=text_body,
                             sha256=hashlib.sha256(text_body.encode()).hexdigest(), created_at=now)
    session.add(report)
    session.flush()
    append_record(session, plan_id, now, kind="monthly_report", report_id=report.id, content_sha256=report.sha256)
    return report
