"""Closing a plan (docs/wind-down.md; domain.md "Wind-down").

proposed (one operator) → announced (finance, another operator, confirms): no joins, no claims for
incidents after the closing date → final_run (the closing date has passed; the cases already reported
finish through the normal path and the runs collect their aid) → refunding (nothing left in the
pipeline: one balance_returns row per membership, written set-based with the member's share of the
plan's surplus, pro rata to the balances; chunk jobs return them — balance_returns.py) → closed (the
last fen is back; the closing report is stored, hashed and chained like a monthly report).

Every step is idempotent: `advance` may be called any number of times (the scheduler does), and a
chunk job killed mid-way is handed out again after its lease; a return is processed once (its row is
locked and must still be pending) and WeChat is asked with the same numbers every time."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from app.models import (ACTIVE_STATES, OPEN_CLAIM_STATUSES, OPEN_RUN_STATUSES, Account, ApportionmentRun,
                        BalanceReturn, Claim, FinancialReport, Membership, Operator, PayoutTransfer, Plan,
                        PlanWindDown, ReturnTransfer)
from app.models.payments import PaymentOrder, PaymentRefund
from app.models.wind_down import CLOSING_STATUSES, BalanceReturnRefund

from . import balance_returns, events, ledger
from .clock import china_date
from .errors import Conflict, Forbidden, InvalidRequest, NotFound
from .operators import record_audit, require_role
from .plans import fen_to_yuan_text, get_plan
from .unit_of_work import atomic

log = logging.getLogger(__name__)

CLOSING_REPORT_PERIOD = "closing"  # financial_reports.period of a plan's closing report
SURPLUS_RULE_TEXT = ("计划结余（历次分摊多收的零头）按退回开始时各成员余额的比例分给仍持有余额的成员，"
                     "分到的钱随余额一起退回；按比例计算后剩下的几分钱，依次给余数最大的成员")
DEFAULT_LEASE = dt.timedelta(minutes=10)
ENDED_KEEPING_BALANCE = ("lapsed", "aided", "left")  # ended memberships whose balance (if any) is still theirs


@dataclass(frozen=True)
class Progress:
    members_total: int
    refunded: int  # returns finished (every fen back)
    pending: int  # not finished yet (waiting, or on their way)
    failed: int
    returned_fen: int
    remaining_fen: int  # still to go back: balances not yet processed + processed but not yet confirmed


# --- guards (called by joining and claiming) ------------------------------------------------------

def _active(session: Session, plan_id: int) -> PlanWindDown | None:
    return session.execute(select(PlanWindDown).where(
        PlanWindDown.plan_id == plan_id, PlanWindDown.status != "proposed")).scalar_one_or_none()


def check_joins_open(session: Session, plan_id: int) -> None:
    found = _active(session, plan_id)
    if found is not None:
        raise Conflict(f"这个互助计划将于{found.closing_date:%Y年%m月%d日}停止运行，不再接受加入", code="plan_closing",
                       details={"closing_date": found.closing_date.isoformat()})


def check_claim_allowed(session: Session, plan_id: int, incident_date: dt.date) -> None:
    found = _active(session, plan_id)
    if found is not None and (incident_date > found.closing_date or found.status in ("refunding", "closed")):
        raise Conflict(f"这个互助计划已于{found.closing_date:%Y年%m月%d日}停止运行，此后发生的事件不在互助范围内",
                       code="plan_closing", details={"closing_date": found.closing_date.isoformat()})


# --- two operators start it ------------------------------------------------------------------------

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


# --- moving on --------------------------------------------------------------------------------------

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
    rows = session.execute(select(PlanWindDown.id, Plan.code).join(Plan, Plan.id == PlanWindDown.plan_id)
                           .where(PlanWindDown.status.in_(CLOSING_STATUSES)).order_by(PlanWindDown.id)).all()
    session.rollback()
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
        with atomic(session):
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
  SELECT m.id, a.balance_fen AS bal FROM memberships m JOIN accounts a ON a.membership_id = m.id
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
                                                     bindparam("now", type_=UTCDateTime()))
        session.execute(statement, {"plan": found.plan_id, "active": list(ACTIVE_STATES), "surplus": surplus,
                                    "now": now})
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


def process_chunk(session: Session, pay: balance_returns.ReturnGateway, return_ids: list[int], now: dt.datetime, *,
                  pace: Callable[[], None] = lambda: None) -> dict[str, int]:
    """A chunk job. One database transaction writes the whole chunk set-based (ledger transactions,
    postings, balances, refund and transfer rows, statuses: a dozen statements for 500 returns); then
    WeChat is asked for each refund and transfer (same numbers on every retry), and the answers are
    recorded in one more transaction. A chunk killed anywhere is safe: before the commit nothing
    happened; after it, the returns are no longer pending and `resubmit` asks WeChat again."""
    processed = _write_chunk(session, return_ids, now)
    if processed:
        _submit_chunk(session, pay, processed, now, pace)
    return {"processed": len(processed), "skipped": len(return_ids) - len(processed)}


def _write_chunk(session: Session, return_ids: list[int], now: dt.datetime) -> list[int]:
    """The chunk's pending returns, written in one transaction; returns the membership ids processed."""
    from sqlalchemy import bindparam, insert

    from app.models import DomainEvent, LedgerTransaction, Posting

    from . import refund_orders

    with atomic(session):
        rows = session.execute(
            select(BalanceReturn.id, BalanceReturn.membership_id, BalanceReturn.plan_id, BalanceReturn.surplus_fen,
                   Membership.user_id, Membership.state, Account.id.label("account_id"), Account.balance_fen)
            .join(Membership, Membership.id == BalanceReturn.membership_id)
            .join(Account, Account.membership_id == BalanceReturn.membership_id)
            .where(BalanceReturn.id.in_(return_ids), BalanceReturn.status == "pending")
            .order_by(BalanceReturn.id)
            .with_for_update(of=[BalanceReturn.__table__, Membership.__table__, Account.__table__])).all()
        if not rows:
            return []
        plan_id = rows[0].plan_id
        code = session.execute(select(Plan.code).where(Plan.id == plan_id)).scalar_one()
        pending_account = ledger.account_id(session, "system:refund_pending")
        surplus_account = ledger.account_id(session, ledger.plan_account_code(code, "plan_surplus"))
        orders: dict[int, list[tuple[int, int]]] = {}
        members = [r.membership_id for r in rows]
        refunded = (select(PaymentRefund.order_id, func.sum(PaymentRefund.amount_fen).label("fen"))
                    .where(PaymentRefund.status != "failed", PaymentRefund.membership_id.in_(members))
                    .group_by(PaymentRefund.order_id).subquery())  # the chunk's refunds only (indexed)
        for membership_id, order_id, fen in session.execute(
                select(PaymentOrder.membership_id, PaymentOrder.id,
                       PaymentOrder.amount_fen - func.coalesce(refunded.c.fen, 0))
                .outerjoin(refunded, refunded.c.order_id == PaymentOrder.id)
                .where(PaymentOrder.membership_id.in_(members), PaymentOrder.status == "paid",
                       PaymentOrder.paid_at > now - refund_orders.REFUND_WINDOW)
                .order_by(PaymentOrder.membership_id, PaymentOrder.paid_at.desc(), PaymentOrder.id.desc())).all():
            if fen > 0:
                orders.setdefault(membership_id, []).append((order_id, int(fen)))

        txns, legs_of, refunds, transfers, statuses, events = [], {}, [], [], [], []
        for r in rows:
            total = r.balance_fen + r.surplus_fen
            allocation = refund_orders.allocate(total, orders.get(r.membership_id, []))
            by_refund = sum(fen for _, fen in allocation)
            statuses.append({"rid": r.id, "st": "returning" if total else "done", "amt": total, "ref": by_refund,
                             "tr": total - by_refund})
            if total:
                legs = [ledger.Leg(pending_account, total)]
                legs += [ledger.Leg(r.account_id, -r.balance_fen)] if r.balance_fen else []
                legs += [ledger.Leg(surplus_account, -r.surplus_fen)] if r.surplus_fen else []
                key = f"wind-down:{r.id}"
                legs_of[key] = legs
                txns.append({"idempotency_key": key, "reason": "wind_down_return", "reference_type": "membership",
                             "reference_id": str(r.membership_id), "created_at": now,
                             "request_hash": ledger.request_hash("wind_down_return", legs, "membership",
                                                                 str(r.membership_id))})
            refunds += [{"out_refund_no": refund_orders.new_out_refund_no(), "order_id": order_id,
                         "membership_id": r.membership_id, "amount_fen": fen, "status": "pending", "attempts": 0,
                         "created_at": now, "updated_at": now, "_rid": r.id} for order_id, fen in allocation]
            if total - by_refund:
                transfers.append({"balance_return_id": r.id, "membership_id": r.membership_id, "user_id": r.user_id,
                                  "out_bill_no": balance_returns.new_out_bill_no(r.id), "amount_fen": total - by_refund,
                                  "status": "pending", "attempts": 0, "created_at": now, "updated_at": now})
            events.append({"kind": "balance.returning", "user_id": r.user_id, "plan_id": plan_id,
                           "membership_id": r.membership_id, "created_at": now,
                           "payload": {"reason": "wind_down", "amount_fen": total, "by_refund_fen": by_refund,
                                       "by_transfer_fen": total - by_refund, "surplus_fen": r.surplus_fen}})
        if txns:
            ids = dict((key, tid) for tid, key in session.execute(
                insert(LedgerTransaction).returning(LedgerTransaction.id, LedgerTransaction.idempotency_key),
                txns).all())
            # PostgreSQL checks each transaction's zero sum per statement: every execute holds whole
            # transactions and at most 750 rows, one statement (insertmanyvalues pages hold 1,000).
            keys = list(legs_of)
            for start in range(0, len(keys), 250):
                session.execute(insert(Posting), [
                    {"transaction_id": ids[key], "account_id": leg.account_id, "amount_fen": leg.amount_fen}
                    for key in keys[start:start + 250] for leg in legs_of[key]])
            deltas: dict[int, int] = {}
            for legs in legs_of.values():
                for leg in legs:
                    deltas[leg.account_id] = deltas.get(leg.account_id, 0) + leg.amount_fen
            session.execute(update(Account.__table__).where(Account.__table__.c.id == bindparam("aid"))
                            .values(balance_fen=Account.__table__.c.balance_fen + bindparam("delta")),
                            [{"aid": aid, "delta": delta} for aid, delta in sorted(deltas.items()) if delta])
        if refunds:
            made = session.execute(insert(PaymentRefund).returning(PaymentRefund.id, PaymentRefund.out_refund_no),
                                   [{k: v for k, v in x.items() if k != "_rid"} for x in refunds]).all()
            rid_of = {x["out_refund_no"]: x["_rid"] for x in refunds}
            session.execute(insert(BalanceReturnRefund), [{"refund_id": refund_id, "balance_return_id": rid_of[number]}
                                                          for refund_id, number in made])
        if transfers:
            session.execute(insert(ReturnTransfer), transfers)
        table = BalanceReturn.__table__
        session.execute(update(table).where(table.c.id == bindparam("rid")).values(
            status=bindparam("st"), amount_fen=bindparam("amt"), by_refund_fen=bindparam("ref"),
            by_transfer_fen=bindparam("tr"), updated_at=now), statuses)
        session.execute(update(Membership).where(Membership.id.in_([r.membership_id for r in rows]),
                                                 Membership.state.in_(ACTIVE_STATES))
                        .values(state="left", ended_at=now, state_changed_at=now)
                        .execution_options(synchronize_session=False))
        session.execute(insert(DomainEvent), events)  # no subscriber listens to balance.returning
    return [r.membership_id for r in rows if r.balance_fen + r.surplus_fen]


def _submit_chunk(session: Session, pay: balance_returns.ReturnGateway, membership_ids: list[int], now: dt.datetime,
                  pace: Callable[[], None]) -> None:
    """WeChat asked for the chunk's refunds (attempts counted first, answers recorded in one transaction),
    then its transfers."""
    from sqlalchemy import bindparam

    from . import refunds
    from .payments import _pay_errors

    PayError, PayTimeout, _ = _pay_errors()
    with atomic(session):
        todo = session.execute(
            select(PaymentRefund.id, PaymentRefund.out_refund_no, PaymentRefund.amount_fen,
                   PaymentOrder.out_trade_no, PaymentOrder.amount_fen.label("total_fen"))
            .join(PaymentOrder, PaymentOrder.id == PaymentRefund.order_id)
            .where(PaymentRefund.membership_id.in_(membership_ids), PaymentRefund.status == "pending",
                   PaymentRefund.refund_id.is_(None)).order_by(PaymentRefund.id)).all()
        session.execute(update(PaymentRefund).where(PaymentRefund.id.in_([t.id for t in todo]))
                        .values(attempts=PaymentRefund.attempts + 1, updated_at=now)
                        .execution_options(synchronize_session=False))
    accepted, settled, errors = [], [], []
    for refund in todo:
        pace()
        try:
            answer = pay.refund(refund.out_refund_no, out_trade_no=refund.out_trade_no, refund_fen=refund.amount_fen,
                                total_fen=refund.total_fen, reason=refunds.REFUND_REASON)
        except (PayError, PayTimeout) as exc:
            errors.append((refund, exc))
            continue
        accepted.append({"rid": refund.id, "wx": answer.get("refund_id")})
        if answer.get("status") != "PROCESSING":
            settled.append((refund.out_refund_no, answer.get("status")))
    with atomic(session):
        if accepted:
            table = PaymentRefund.__table__
            session.execute(update(table).where(table.c.id == bindparam("rid"))
                            .values(refund_id=bindparam("wx"), last_error=None), accepted)
        for number, status in settled:
            refunds._apply_wechat_status(session, number, status, now)
        for refund, exc in errors:
            if isinstance(exc, PayError) and not refunds._retryable(exc):
                refunds.fail_refund(session, refund.out_refund_no, str(exc), now)
            else:  # outcome unknown: resubmitted with the same out_refund_no
                session.execute(update(PaymentRefund).where(PaymentRefund.id == refund.id)
                                .values(last_error=str(exc)[:500]).execution_options(synchronize_session=False))
    transfer_ids = session.execute(select(ReturnTransfer.id).where(
        ReturnTransfer.membership_id.in_(membership_ids), ReturnTransfer.status == "pending")
        .order_by(ReturnTransfer.id)).scalars().all()
    session.rollback()
    for transfer_id in transfer_ids:
        pace()
        balance_returns.send_transfer(session, pay, transfer_id, now)


def resubmit(session: Session, pay: balance_returns.ReturnGateway, plan_id: int, now: dt.datetime, *,
             pace: Callable[[], None] = lambda: None) -> int:
    """Ask WeChat again for what a killed job left unsent (refunds without WeChat's id, pending transfers)."""
    members = session.execute(select(BalanceReturn.membership_id).where(
        BalanceReturn.plan_id == plan_id, BalanceReturn.status.in_(("returning", "failed")),
        or_(select(PaymentRefund.id).where(PaymentRefund.membership_id == BalanceReturn.membership_id,
                                           PaymentRefund.status == "pending",
                                           PaymentRefund.refund_id.is_(None)).exists(),
            select(ReturnTransfer.id).where(ReturnTransfer.balance_return_id == BalanceReturn.id,
                                            ReturnTransfer.status == "pending").exists()))
        .order_by(BalanceReturn.id)).scalars().all()
    session.rollback()
    for membership_id in members:
        balance_returns.submit(session, pay, now, membership_id=membership_id, pace=pace)
    return len(members)


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


def finish_if_done(session: Session, wind_down_id: int, now: dt.datetime) -> bool:
    """refunding → closed once every return is done: the closing report stored, hashed and chained."""
    from . import reports

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


# --- what the public and the console see ------------------------------------------------------------

def plan_status(found: PlanWindDown | None) -> str:
    if found is None or found.status == "proposed":
        return "open"
    return "closed" if found.status == "closed" else "closing"


def public_view(session: Session, plan_code: str) -> dict | None:
    plan, _ = get_plan(session, plan_code)
    found = _active(session, plan.id)
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
    import json

    plan, _ = get_plan(session, plan_code)
    stored = session.execute(select(FinancialReport).where(
        FinancialReport.plan_id == plan.id, FinancialReport.period == CLOSING_REPORT_PERIOD)).scalar_one_or_none()
    if stored is None:
        raise NotFound("这个计划还没有停止报告", code="not_found")
    return {"sha256": stored.sha256, "report": json.loads(stored.body),
            "verified": hashlib.sha256(stored.body.encode()).hexdigest() == stored.sha256}


def failed_items(session: Session, plan_id: int, limit: int = 100) -> list[dict]:
    """The failed refunds (not retried yet) and transfers of a plan's returns (the console retries them)."""
    from sqlalchemy.orm import aliased

    retry = aliased(PaymentRefund)
    refunds = session.execute(
        select(PaymentRefund.id, PaymentRefund.membership_id, PaymentRefund.amount_fen, PaymentRefund.last_error)
        .join(Membership, Membership.id == PaymentRefund.membership_id)
        .where(Membership.plan_id == plan_id, PaymentRefund.status == "failed",
               ~select(retry.id).where(retry.out_refund_no == PaymentRefund.out_refund_no + "-R").exists())
        .order_by(PaymentRefund.id).limit(limit)).all()
    transfers = session.execute(
        select(ReturnTransfer.id, ReturnTransfer.membership_id, ReturnTransfer.amount_fen, ReturnTransfer.last_error)
        .join(BalanceReturn, BalanceReturn.id == ReturnTransfer.balance_return_id)
        .where(BalanceReturn.plan_id == plan_id, ReturnTransfer.status == "failed", BalanceReturn.status == "failed")
        .order_by(ReturnTransfer.id).limit(limit)).all()
    return ([{"kind": "refund", "id": r.id, "membership_id": r.membership_id, "amount_fen": r.amount_fen,
              "error": r.last_error} for r in refunds]
            + [{"kind": "transfer", "id": t.id, "membership_id": t.membership_id, "amount_fen": t.amount_fen,
                "error": t.last_error} for t in transfers])


def retry_failed(session: Session, pay: balance_returns.ReturnGateway, operator: Operator, plan_code: str,
                 now: dt.datetime) -> int:
    """Finance asks again for every failed refund (a new number, once) and transfer (a new number)."""
    from . import refunds

    require_role(operator, "finance")
    plan, _ = get_plan(session, plan_code)
    items = failed_items(session, plan.id, limit=1000)
    session.rollback()
    for item in items:
        if item["kind"] == "refund":
            refunds.retry_and_submit(session, pay, item["id"], now, operator_id=operator.id)
        else:
            retried = balance_returns.retry_failed_transfer(session, item["id"], now)
            balance_returns.send_transfer(session, pay, retried.id, now)
    with atomic(session):
        record_audit(session, operator_id=operator.id, action="wind_down.retried", target_type="plan",
                     target_id=plan.id, after={"items": len(items)}, now=now)
    return len(items)


def refunding_ids(session: Session) -> list[int]:
    found = list(session.execute(select(PlanWindDown.id).where(PlanWindDown.status == "refunding")
                                 .order_by(PlanWindDown.id)).scalars())
    session.rollback()
    return found


def refunding_plan_ids(session: Session) -> list[int]:
    found = list(session.execute(select(PlanWindDown.plan_id).where(PlanWindDown.status == "refunding")
                                 .order_by(PlanWindDown.id)).scalars())
    session.rollback()
    return found
