"""The returns themselves: a chunk job writes its returns set-based in one transaction, then asks
WeChat (refunds, then transfers) with the same numbers every time; what a killed job left unsent is
asked again (`resubmit`); finance retries what failed."""
from __future__ import annotations

import datetime as dt
from typing import Callable

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, Account, BalanceReturn, Membership, Operator, Plan, ReturnTransfer
from app.models.payments import PaymentOrder, PaymentRefund
from app.models.wind_down import BalanceReturnRefund

from .. import balance_returns, ledger, refund_orders, refunds
from ..operators import record_audit, require_role
from ..plans import get_plan
from ..ports import PayFailure, PayRejected
from ..unit_of_work import atomic, outside_transaction, reading


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

        txns, legs_of, refund_rows, transfers, statuses, events = [], {}, [], [], [], []
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
            refund_rows += [{"out_refund_no": refund_orders.new_out_refund_no(), "order_id": order_id,
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
        if refund_rows:
            made = session.execute(insert(PaymentRefund).returning(PaymentRefund.id, PaymentRefund.out_refund_no),
                                   [{k: v for k, v in x.items() if k != "_rid"} for x in refund_rows]).all()
            rid_of = {x["out_refund_no"]: x["_rid"] for x in refund_rows}
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
            with outside_transaction(session):
                answer = pay.refund(refund.out_refund_no, out_trade_no=refund.out_trade_no,
                                    refund_fen=refund.amount_fen, total_fen=refund.total_fen,
                                    reason=refunds.REFUND_REASON)
        except PayFailure as exc:
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
            refunds.apply_wechat_status(session, number, status, now)
        for refund, exc in errors:
            if isinstance(exc, PayRejected) and not refunds.retryable(exc):
                refunds.fail_refund(session, refund.out_refund_no, str(exc), now)
            else:  # outcome unknown: resubmitted with the same out_refund_no
                session.execute(update(PaymentRefund).where(PaymentRefund.id == refund.id)
                                .values(last_error=str(exc)[:500]).execution_options(synchronize_session=False))
    with reading(session):
        transfer_ids = session.execute(select(ReturnTransfer.id).where(
            ReturnTransfer.membership_id.in_(membership_ids), ReturnTransfer.status == "pending")
            .order_by(ReturnTransfer.id)).scalars().all()
    for transfer_id in transfer_ids:
        pace()
        balance_returns.send_transfer(session, pay, transfer_id, now)


def resubmit(session: Session, pay: balance_returns.ReturnGateway, plan_id: int, now: dt.datetime, *,
             pace: Callable[[], None] = lambda: None) -> int:
    """Ask WeChat again for what a killed job left unsent (refunds without WeChat's id, pending transfers)."""
    with reading(session):
        members = session.execute(select(BalanceReturn.membership_id).where(
            BalanceReturn.plan_id == plan_id, BalanceReturn.status.in_(("returning", "failed")),
            or_(select(PaymentRefund.id).where(PaymentRefund.membership_id == BalanceReturn.membership_id,
                                               PaymentRefund.status == "pending",
                                               PaymentRefund.refund_id.is_(None)).exists(),
                select(ReturnTransfer.id).where(ReturnTransfer.balance_return_id == BalanceReturn.id,
                                                ReturnTransfer.status == "pending").exists()))
            .order_by(BalanceReturn.id)).scalars().all()
    for membership_id in members:
        refunds.submit_return(session, pay, now, membership_id=membership_id, pace=pace)
    return len(members)


def failed_items(session: Session, plan_id: int, limit: int = 100) -> list[dict]:
    """The failed refunds (not retried yet) and transfers of a plan's returns (the console retries them)."""
    from sqlalchemy.orm import aliased

    retry = aliased(PaymentRefund)
    refund_rows = session.execute(
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
              "error": r.last_error} for r in refund_rows]
            + [{"kind": "transfer", "id": t.id, "membership_id": t.membership_id, "amount_fen": t.amount_fen,
                "error": t.last_error} for t in transfers])


def retry_failed(session: Session, pay: balance_returns.ReturnGateway, operator: Operator, plan_code: str,
                 now: dt.datetime) -> int:
    """Finance asks again for every failed refund (a new number, once) and transfer (a new number)."""
    require_role(operator, "finance")
    with reading(session):
        plan, _ = get_plan(session, plan_code)
        plan_id = plan.id
        items = failed_items(session, plan_id, limit=1000)
    for item in items:
        if item["kind"] == "refund":
            refunds.retry_and_submit(session, pay, item["id"], now, operator_id=operator.id)
        else:
            retried = balance_returns.retry_failed_transfer(session, item["id"], now)
            balance_returns.send_transfer(session, pay, retried.id, now)
    with atomic(session):
        record_audit(session, operator_id=operator.id, action="wind_down.retried", target_type="plan",
                     target_id=plan_id, after={"items": len(items)}, now=now)
    return len(items)
