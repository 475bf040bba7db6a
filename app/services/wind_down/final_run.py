"""Moving a closing plan on: announced → final_run (the closing date passed) → refunding (the pipeline
empty: one return per membership, set-based, with its share of the surplus; chunks handed out) →
closed (every return done: the closing report stored, hashed and chained)."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from app.models import (ACTIVE_STATES, OPEN_CLAIM_STATUSES, OPEN_RUN_STATUSES, Account, ApportionmentRun,
                        BalanceReturn, Claim, PayoutTransfer, Plan, PlanWindDown)
from app.models.wind_down import CLOSING_STATUSES

from .. import events, ledger
from ..clock import CHINA_TZ, china_date
from ..operators import record_audit
from ..unit_of_work import atomic, reading
from .guards import CLOSING_REPORT_PERIOD, DEFAULT_LEASE, SURPLUS_RULE_TEXT


def pipeline_open(session: Session, plan_id: int) -> dict[str, int]:
    """What still keeps the returns from starting: open cases, open runs, aid not yet transferred."""
    claims = session.execute(select(func.count()).select_from(Claim).where(
        Claim.plan_id == plan_id, Claim.status.in_(OPEN_CLAIM_STATUSES))).scalar_one()
    runs = session.execute(select(func.count()).select_from(ApportionmentRun).where(
        ApportionmentRun.plan_id == plan_id, ApportionmentRun.status.in_(OPEN_RUN_STATUSES))).scalar_one()
    payouts = session.execute(select(func.count()).select_from(PayoutTransfer).join(Claim).where(
        Claim.plan_id == plan_id, PayoutTransfer.status.in_(("pending", "wait_user_confirm")))).scalar_one()
    return {k: v for k, v in (("claims", claims), ("runs", runs), ("payouts", payouts)) if v}


def advance(session: Session, now: dt.datetime, enqueue: Callable[[list[int]], object], *,
            chunk_size: int = 500, lease: dt.timedelta = DEFAULT_LEASE) -> dict[str, str]:
    """Every closing plan one step further (the scheduler's task; safe to call any time)."""
    outcome = {}
    with reading(session):
        rows = session.execute(select(PlanWindDown.id, Plan.code).join(Plan, Plan.id == PlanWindDown.plan_id)
                               .where(PlanWindDown.status.in_(CLOSING_STATUSES)).order_by(PlanWindDown.id)).all()
    for wind_down_id, code in rows:
        outcome[code] = step(session, wind_down_id, now, enqueue, chunk_size=chunk_size, lease=lease)
    return outcome


def step(session: Session, wind_down_id: int, now: dt.datetime, enqueue: Callable[[list[int]], object], *,
         chunk_size: int = 500, lease: dt.timedelta = DEFAULT_LEASE) -> str:
    with atomic(session):
        found = session.get(PlanWindDown, wind_down_id)
        session.refresh(found)
        status, plan_id, closing_date = found.status, found.plan_id, found.closing_date
        if status == "announced" and china_date(now) > closing_date:
            found.status = status = "final_run"
    if status == "final_run":
        with reading(session):
            if pipeline_open(session, plan_id):
                return "final_run"
        start_returns(session, wind_down_id, now)
        status = "refunding"
    if status == "refunding":
        dispatch(session, plan_id, now, enqueue, chunk_size=chunk_size, lease=lease)
        return "closed" if finish_if_done(session, wind_down_id, now) else "refunding"
    return status


_INSERT_RETURNS = """
WITH held AS (
  -- weight: the balance held at the end of the closing date (today's balance less what moved since)
  SELECT m.id, a.balance_fen - CAST(COALESCE((
           SELECT SUM(p.amount_fen) FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id
            WHERE p.account_id = a.id AND t.created_at >= :after_closing), 0) AS BIGINT) AS bal
    FROM memberships m JOIN accounts a ON a.membership_id = m.id
   WHERE m.plan_id = :plan AND (m.state IN :active OR a.balance_fen > 0)
     AND NOT EXISTS (SELECT 1 FROM balance_returns r WHERE r.membership_id = m.id AND r.reason = 'wind_down')),
total AS (SELECT CAST(COALESCE(SUM(bal), 0) AS BIGINT) AS t FROM held),  -- PostgreSQL: SUM(bigint) is numeric
floor_share AS (
  SELECT h.id, CASE WHEN t.t > 0 THEN (CAST(:surplus AS BIGINT) * h.bal) / t.t ELSE 0 END AS base, CAST(:surplus AS BIGINT) * h.bal AS num, t.t
    FROM held h CROSS JOIN total t),
ranked AS (SELECT id, base, ROW_NUMBER() OVER (ORDER BY num - base * t DESC, id) AS rn FROM floor_share),
leftover AS (SELECT CASE WHEN (SELECT t FROM total) > 0 THEN CAST(:surplus AS BIGINT) - CAST(COALESCE(SUM(base), 0) AS BIGINT) ELSE 0 END AS lo
               FROM floor_share)
INSERT INTO balance_returns (membership_id, plan_id, reason, status, surplus_fen, amount_fen, by_refund_fen,
                             by_transfer_fen, returned_fen, created_at, updated_at)
SELECT r.id, :plan, 'wind_down', 'pending', r.base + CASE WHEN r.rn <= l.lo THEN 1 ELSE 0 END, 0, 0, 0, 0, :now, :now
  FROM ranked r CROSS JOIN leftover l
"""


def start_returns(session: Session, wind_down_id: int, now: dt.datetime) -> None:
    """final_run → refunding: one return per membership, set-based, each with its share of the surplus."""
    from sqlalchemy import bindparam

    from app.models.base import UTCDateTime

    with atomic(session):
        found = session.execute(select(PlanWindDown).where(PlanWindDown.id == wind_down_id)
                                .with_for_update()).scalar_one()
        if found.status != "final_run":
            return
        code = session.execute(select(Plan.code).where(Plan.id == found.plan_id)).scalar_one()
        surplus = session.execute(select(Account.balance_fen).where(
            Account.code == ledger.plan_account_code(code, "plan_surplus"))).scalar_one_or_none() or 0
        statement = text(_INSERT_RETURNS).bindparams(bindparam("active", expanding=True),
                                                     bindparam("now", type_=UTCDateTime()),
                                                     bindparam("after_closing", type_=UTCDateTime()))
        after_closing = dt.datetime.combine(found.closing_date + dt.timedelta(days=1), dt.time(), CHINA_TZ)
        session.execute(statement, {"plan": found.plan_id, "active": list(ACTIVE_STATES), "surplus": surplus,
                                    "now": now, "after_closing": after_closing})
        shared = session.execute(select(func.coalesce(func.sum(BalanceReturn.surplus_fen), 0)).where(
            BalanceReturn.plan_id == found.plan_id, BalanceReturn.reason == "wind_down")).scalar_one()
        found.status, found.refunding_at, found.surplus_fen = "refunding", now, int(shared)
        record_audit(session, operator_id=None, action="wind_down.refunding", target_type="plan",
                     target_id=found.plan_id, after={"surplus_fen": int(shared), "surplus_held_fen": int(surplus)},
                     now=now)


def dispatch(session: Session, plan_id: int, now: dt.datetime, enqueue: Callable[[list[int]], object], *,
             chunk_size: int = 500, lease: dt.timedelta = DEFAULT_LEASE, max_chunks: int | None = None) -> int:
    """Hand out the pending returns not taken within the lease, in chunks (keyset by id). Returns the
    number of chunks enqueued. A killed job's returns come back after the lease."""
    chunks, after = 0, 0
    while max_chunks is None or chunks < max_chunks:
        with atomic(session):
            ids = list(session.execute(select(BalanceReturn.id).where(
                BalanceReturn.plan_id == plan_id, BalanceReturn.status == "pending", BalanceReturn.id > after,
                or_(BalanceReturn.dispatched_at.is_(None), BalanceReturn.dispatched_at < now - lease))
                .order_by(BalanceReturn.id).limit(chunk_size)).scalars())
            if not ids:
                break
            session.execute(update(BalanceReturn).where(BalanceReturn.id.in_(ids))
                            .values(dispatched_at=now).execution_options(synchronize_session=False))
        enqueue(ids)
        chunks, after = chunks + 1, ids[-1]
    return chunks


def finish_if_done(session: Session, wind_down_id: int, now: dt.datetime) -> bool:
    """refunding → closed once every return is done: the closing report stored, hashed and chained."""
    from .. import reports

    with atomic(session):
        found = session.execute(select(PlanWindDown).where(PlanWindDown.id == wind_down_id)
                                .with_for_update()).scalar_one()
        if found.status == "closed":
            return True
        if found.status != "refunding":
            return False
        unfinished = session.execute(select(func.count()).select_from(BalanceReturn).where(
            BalanceReturn.plan_id == found.plan_id, BalanceReturn.reason == "wind_down",
            BalanceReturn.status != "done")).scalar_one()
        if unfinished:
            return False
        report = reports.store_closing_report(session, found.plan_id, closing_report(session, found), now,
                                              period=CLOSING_REPORT_PERIOD)
        found.status, found.closed_at, found.closing_report_sha256 = "closed", now, report.sha256
        record_audit(session, operator_id=None, action="wind_down.closed", target_type="plan",
                     target_id=found.plan_id, after={"report_sha256": report.sha256}, now=now)
        events.record(session, "plan.closed", now=now, plan_id=found.plan_id, payload={"report_sha256": report.sha256})
    return True


def closing_report(session: Session, found: PlanWindDown) -> dict:
    """The figures of the wind-down (the monthly report's ledger figures are in reports.compute)."""
    plan = session.get(Plan, found.plan_id)
    sums = session.execute(select(
        func.count(), func.coalesce(func.sum(BalanceReturn.amount_fen), 0),
        func.coalesce(func.sum(BalanceReturn.by_refund_fen), 0), func.coalesce(func.sum(BalanceReturn.by_transfer_fen), 0),
        func.coalesce(func.sum(BalanceReturn.surplus_fen), 0),
        func.coalesce(func.sum(BalanceReturn.returned_fen), 0))
        .where(BalanceReturn.plan_id == found.plan_id, BalanceReturn.reason == "wind_down")).one()
    final_cases = session.execute(select(func.count(), func.coalesce(func.sum(Claim.collected_aid_fen), 0)).where(
        Claim.plan_id == found.plan_id, Claim.status == "paid",
        Claim.incident_date <= found.closing_date, Claim.updated_at >= found.announced_at)).one()
    balances = session.execute(select(func.coalesce(func.sum(Account.balance_fen), 0)).where(
        Account.plan_id == found.plan_id, Account.kind == "member")).scalar_one()
    return {
        "v": 1, "plan": plan.code, "plan_name": plan.name, "closing_date": found.closing_date.isoformat(),
        "announced_at": found.announced_at.isoformat() if found.announced_at else None,
        "refunding_at": found.refunding_at.isoformat() if found.refunding_at else None,
        "members_returned": int(sums[0]), "returned_fen": int(sums[5]), "amount_fen": int(sums[1]),
        "by_refund_fen": int(sums[2]), "by_transfer_fen": int(sums[3]), "surplus_shared_fen": int(sums[4]),
        "surplus_rule": SURPLUS_RULE_TEXT, "final_cases_paid": int(final_cases[0]),
        "final_cases_aid_fen": int(final_cases[1]), "member_balances_left_fen": int(balances),
    }


def refunding_ids(session: Session) -> list[int]:
    with reading(session):
        return list(session.execute(select(PlanWindDown.id).where(PlanWindDown.status == "refunding")
                                    .order_by(PlanWindDown.id)).scalars())


def refunding_plan_ids(session: Session) -> list[int]:
    with reading(session):
        return list(session.execute(select(PlanWindDown.plan_id).where(PlanWindDown.status == "refunding")
                                    .order_by(PlanWindDown.id)).scalars())
