"""Leaving a plan: the remaining balance goes back to the original WeChat payments, less the share
of an open apportionment run the membership was counted in (withheld for that run).

Leaving is one database transaction (guards, the run's share withheld, the rest → system:refund_pending,
one refund row per order, newest payment first, within WeChat's one-year limit, state 'left'); the refunds are then
asked of WeChat outside it, each with its own out_refund_no, retried with the same number until
WeChat says it succeeded (notification or query). Success moves refund_pending → refunds_out."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import LEAVABLE_STATES, Account, Membership
from app.models.payments import PaymentOrder, PaymentRefund

from . import apportionment, balance_returns, events, ledger, memberships, refund_orders
from .errors import Conflict, InvalidRequest, NotFound
from .money import fen_to_yuan_text
from .ports import PayFailure, PayGateway, PayRejected
from .reconciliation import ReconcileReport
from .unit_of_work import atomic, outside_transaction
from .wechat_resources import Refund as RefundResource, validated

log = logging.getLogger(__name__)

REFUND_REASON = "退出互助，余额原路退回"
FINAL_FAILURE_STATES = ("CLOSED", "ABNORMAL")


@dataclass(frozen=True)
class LeaveResult:
    membership_id: int
    refunded_fen: int  # moved to refund pending by this call (0 when the leave is a retry)
    refunds: list[PaymentRefund]
    withheld_fen: int = 0  # the share of an open run this membership was counted in, kept for that run
    withheld_run_id: int | None = None
    message: str = ""  # what happened to the balance, in plain words


def leave_message(balance_fen: int, withheld_fen: int, run_id: int | None, *, retry: bool) -> str:
    if retry:
        return "您已退出这份互助，退款正在原路退回"
    if withheld_fen:
        return (f"已退出。余额{fen_to_yuan_text(balance_fen)}中，{fen_to_yuan_text(withheld_fen)}是第{run_id}期分摊"
                f"您应付的份额（准备分摊时您在付款人之列，份额已按公布的金额扣留，用于本期案例），"
                f"其余{fen_to_yuan_text(balance_fen - withheld_fen)}原路退回")
    return f"已退出，余额{fen_to_yuan_text(balance_fen)}原路退回"


def leave(session: Session, pay: PayGateway, *, user_id: int, membership_id: int, now: dt.datetime) -> LeaveResult:
    """End the membership and refund its balance, less the share of an open apportionment run it
    was counted in (domain.md: that share is owed even if the membership ends before execution).
    Retrying is safe: a membership that has already left refunds nothing more; its unfinished
    refunds are asked of WeChat again (same numbers). The public entry point for every "end and
    refund" (leaving, and the automatic refund of an aided membership)."""
    moved, withheld, run_id, balance = 0, 0, None, 0
    with atomic(session):
        plan_id = session.execute(select(Membership.plan_id).where(
            Membership.id == membership_id, Membership.user_id == user_id)).scalar_one_or_none()
        if plan_id is None:
            raise NotFound("没有找到这份互助", code="membership_not_found")
        run = apportionment.lock_open_run(session, plan_id, membership_id)  # before the membership: a chunk's order
        membership = session.execute(
            select(Membership).where(Membership.id == membership_id).with_for_update()).scalar_one()
        retry = membership.state == "left"
        if not retry:
            if membership.state not in LEAVABLE_STATES:
                raise Conflict("这份互助已经结束，无需退出", code="membership_ended", details={"state": membership.state})
            memberships.check_leave_guards(session, membership_id)
            # Locked so no credit or deduction slips between reading the balance and moving it.
            balance = session.execute(select(Account.balance_fen).where(Account.membership_id == membership_id)
                                      .with_for_update()).scalar_one()
            withheld = apportionment.withhold_share(session, run, membership, balance, now, user_id=user_id)
            run_id = run.id if withheld else None
            moved = balance - withheld
            # Money paid over a year ago goes back by merchant transfer (issue 14), never refused.
            balance_returns.return_balance(session, membership_id=membership_id, plan_id=membership.plan_id,
                                           payer_user_id=membership.user_id, reason="leave", balance_fen=moved,
                                           surplus_fen=0, surplus_account_id=None, key=f"leave:{membership_id}",
                                           now=now, initiated_by=user_id)
            session.execute(update(Membership).where(Membership.id == membership_id)
                            .values(state="left", ended_at=now, state_changed_at=now)
                            .execution_options(synchronize_session=False))
            events.record(session, "membership.left", now=now, user_id=user_id, plan_id=membership.plan_id,
                          membership_id=membership_id,
                          payload={"refund_fen": moved, "withheld_fen": withheld, "run_id": run_id})
    submit_return(session, pay, now, membership_id=membership_id)
    return LeaveResult(membership_id, moved, list_refunds(session, membership_id), withheld, run_id,
                       leave_message(balance, withheld, run_id, retry=retry))


AIDED_REFUND_REASON = "aided_refund"


def refund_aided_balance(session: Session, membership_id: int, now: dt.datetime) -> int | None:
    """An aided membership's remaining balance goes back to its payer, like a leave's: refunded to
    the original payments within WeChat's one-year limit, and money paid more than a year ago by
    merchant transfer (balance_returns, reason "aided"; caller's transaction, WeChat asked by
    submit_return / the sweeps). Returns the fen moved, or None while a leave guard holds the
    balance (e.g. a run counting it as a payer is still open: the sweep `refund_aided_balances`
    tries again later). Idempotent: once moved, the balance is 0 and a second call moves nothing.
    A credit arriving after the return (a cancelled run giving back a withheld share) is refunded
    to its payments by the same sweep."""
    member = session.execute(select(Membership.state, Membership.user_id, Membership.plan_id)
                             .where(Membership.id == membership_id).with_for_update()).one()
    if member.state != "aided":
        return 0
    try:
        memberships.check_leave_guards(session, membership_id)
    except Conflict:
        return None
    # Locked so no credit or deduction slips between reading the balance and moving it.
    balance = session.execute(select(Account.balance_fen).where(Account.membership_id == membership_id)
                              .with_for_update()).scalar_one()
    if not balance:
        return 0
    key = f"aided-refund:{membership_id}:{balance}"
    if not balance_returns.has_return(session, membership_id, "aided"):
        balance_returns.return_balance(
            session, membership_id=membership_id, plan_id=member.plan_id, payer_user_id=member.user_id,
            reason="aided", balance_fen=balance, surplus_fen=0, surplus_account_id=None, key=key, now=now,
            initiated_by=None)
        moved = balance
    else:  # a later credit: refunded to its payments (a year-old payment's part stays for customer service)
        allocation = refund_orders.allocate(balance, refund_orders.refundable_orders(session, membership_id, now))
        moved = sum(fen for _, fen in allocation)
        if moved:
            refund_orders.move_to_refund_pending(session, membership_id=membership_id, amount_fen=moved, key=key,
                                                 now=now, user_id=None, reason=AIDED_REFUND_REASON)
        for order_id, fen in allocation:
            refund_orders.add_refund(session, order_id=order_id, membership_id=membership_id, amount_fen=fen,
                                     now=now)
    if moved:
        events.record(session, "membership.aided_refund", now=now, user_id=member.user_id, plan_id=member.plan_id,
                      membership_id=membership_id, payload={"refund_fen": moved, "kept_fen": balance - moved})
    return moved


def refund_aided_balances(session: Session, pay: PayGateway, now: dt.datetime) -> int:
    """The sweep (claims advance, right after the payouts): every aided membership still holding a
    balance (a refund deferred by an open run) is refunded, and its refunds WeChat has not accepted
    yet are asked of it (same out_refund_no). Returns the fen moved."""
    unsent = select(PaymentRefund.id).where(PaymentRefund.membership_id == Membership.id,
                                            PaymentRefund.status == "pending", PaymentRefund.refund_id.is_(None))
    with atomic(session):
        candidates = list(session.execute(
            select(Membership.id).join(Account, Account.membership_id == Membership.id)
            .where(Membership.state == "aided", (Account.balance_fen > 0) | unsent.exists())
            .order_by(Membership.id)).scalars())
    moved = 0
    for membership_id in candidates:
        with atomic(session):
            moved += refund_aided_balance(session, membership_id, now) or 0
        submit_return(session, pay, now, membership_id=membership_id)
    return moved


def refund_late_payment(session: Session, order: PaymentOrder, now: dt.datetime) -> None:
    """A payment credited after its membership left goes back to its payer (caller's transaction;
    the refund is asked of WeChat by the next reconcile)."""
    refund_orders.move_to_refund_pending(session, membership_id=order.membership_id, amount_fen=order.amount_fen,
                                         key=f"late-refund:{order.id}", now=now, user_id=order.payer_user_id)
    refund_orders.add_refund(session, order_id=order.id, membership_id=order.membership_id,
                             amount_fen=order.amount_fen, now=now)


def list_refunds(session: Session, membership_id: int) -> list[PaymentRefund]:
    return list(session.execute(select(PaymentRefund).where(PaymentRefund.membership_id == membership_id)
                                .order_by(PaymentRefund.id)).scalars())


# --- completing refunds -------------------------------------------------------------------------

def complete_refund(session: Session, out_refund_no: str, now: dt.datetime) -> bool:
    """pending → succeeded and refund_pending → refunds_out, once (caller's transaction)."""
    row = session.execute(
        update(PaymentRefund).where(PaymentRefund.out_refund_no == out_refund_no, PaymentRefund.status == "pending")
        .values(status="succeeded", completed_at=now, updated_at=now, last_error=None)
        .returning(PaymentRefund.id, PaymentRefund.membership_id, PaymentRefund.amount_fen)
    ).first()
    if row is None:
        return False
    ledger.post_transaction(
        session, idempotency_key=f"refund:{out_refund_no}", reason="refund",
        legs=[ledger.Leg(ledger.account_id(session, "system:refund_pending"), -row.amount_fen),
              ledger.Leg(ledger.account_id(session, "system:refunds_out"), row.amount_fen)],
        now=now, reference_type="refund", reference_id=str(row.id),
    )
    balance_returns.note_refund(session, row.id, row.amount_fen, True, now)
    member = session.execute(select(Membership.user_id, Membership.plan_id)
                             .where(Membership.id == row.membership_id)).one()
    events.record(session, "refund.completed", now=now, user_id=member.user_id, plan_id=member.plan_id,
                  membership_id=row.membership_id, payload={"amount_fen": row.amount_fen, "refund_id": row.id})
    return True


def fail_refund(session: Session, out_refund_no: str, error: str, now: dt.datetime) -> bool:
    """WeChat gave up on it: the money stays in refund pending for an operator (caller's transaction)."""
    log.error("refund %s failed: %s", out_refund_no, error)
    row = session.execute(
        update(PaymentRefund).where(PaymentRefund.out_refund_no == out_refund_no, PaymentRefund.status == "pending")
        .values(status="failed", last_error=error[:500], updated_at=now).returning(PaymentRefund.id)).first()
    if row is not None:
        balance_returns.note_refund(session, row.id, 0, False, now)
    return row is not None


def retry_out_refund_no(failed_out_refund_no: str) -> str:
    """The number of a failed refund's retry: derived, so one failed refund has at most one retry."""
    return f"{failed_out_refund_no}-R"


def retry_failed_refund(session: Session, refund_id: int, now: dt.datetime, *,
                        operator_id: int | None = None) -> PaymentRefund:
    """A new pending refund (new out_refund_no) for the same order and amount as a failed one, whose
    money is still in system:refund_pending. Once per failed refund: calling again returns the same
    retry. WeChat is asked by submit_refunds / the next reconcile (outside this transaction)."""
    with atomic(session):
        failed = session.execute(select(PaymentRefund).where(PaymentRefund.id == refund_id)
                                 .with_for_update()).scalar_one_or_none()
        if failed is None:
            raise NotFound("没有这笔退款", code="refund_not_found")
        number = retry_out_refund_no(failed.out_refund_no)
        existing = session.execute(select(PaymentRefund).where(PaymentRefund.out_refund_no == number)).scalar_one_or_none()
        if existing is not None:
            return existing
        if failed.status != "failed":
            raise Conflict("只有失败的退款才能重新发起", code="refund_not_failed", details={"status": failed.status})
        if len(number) > 64:
            raise Conflict("这笔退款已重试过太多次，请联系微信支付处理", code="refund_retries_exhausted")
        retry = PaymentRefund(out_refund_no=number, order_id=failed.order_id, membership_id=failed.membership_id,
                              amount_fen=failed.amount_fen, status="pending", attempts=0, created_at=now,
                              updated_at=now)
        session.add(retry)
        session.flush()
        if operator_id is not None:
            from .operators import record_audit

            record_audit(session, operator_id=operator_id, action="refund.retried", target_type="refund",
                         target_id=failed.id, after={"retry_refund_id": retry.id, "amount_fen": retry.amount_fen},
                         now=now)
    return retry


def retry_and_submit(session: Session, pay: PayGateway, refund_id: int, now: dt.datetime, *,
                     operator_id: int | None = None) -> PaymentRefund:
    """Retry a failed refund (once) and ask WeChat for it straight away (the CLI and the console)."""
    retry = retry_failed_refund(session, refund_id, now, operator_id=operator_id)
    submit_refunds(session, pay, now, membership_id=retry.membership_id)
    session.refresh(retry)
    return retry


def apply_wechat_status(session: Session, out_refund_no: str, status: str | None, now: dt.datetime) -> str:
    if status == "SUCCESS":
        return "completed" if complete_refund(session, out_refund_no, now) else "unchanged"
    if status in FINAL_FAILURE_STATES:
        return "failed" if fail_refund(session, out_refund_no, f"WeChat refund status {status}", now) else "unchanged"
    return "pending"


def apply_refund_notification(session: Session, pay: PayGateway, resource: dict, now: dt.datetime) -> bool:
    """A verified REFUND.* notification: checked against our refund, then applied once."""
    resource = validated(RefundResource, resource)
    if resource.get("mchid") != pay.mchid:
        raise InvalidRequest("商户号不符", code="notification_mismatch", details={"field": "mchid"})
    with atomic(session):
        found = session.execute(
            select(PaymentRefund.amount_fen, PaymentOrder.out_trade_no)
            .join(PaymentOrder, PaymentOrder.id == PaymentRefund.order_id)
            .where(PaymentRefund.out_refund_no == resource.get("out_refund_no"))
        ).first()
        if found is None:
            raise NotFound("没有这笔退款", code="refund_not_found")
        if (resource.get("amount") or {}).get("refund") != found.amount_fen \
                or resource.get("out_trade_no") != found.out_trade_no:
            raise InvalidRequest("退款金额或订单与记录不符", code="notification_mismatch", details={"field": "amount"})
        outcome = apply_wechat_status(session, resource["out_refund_no"], resource.get("refund_status"), now)
    return outcome in ("completed", "failed")


# Temporary refusals: the refund stays pending and the next reconcile asks again with the same
# out_refund_no (NOT_ENOUGH: the merchant's balance is too low for now).
RETRYABLE_CODES = ("NOT_ENOUGH", "FREQUENCY_LIMITED", "SYSTEM_ERROR")


def retryable(exc: PayRejected) -> bool:
    """A refusal worth asking again about later with the same out_refund_no (not a definite failure)."""
    return exc.status is None or exc.status >= 500 or exc.code in RETRYABLE_CODES


def submit_refunds(session: Session, pay: PayGateway, now: dt.datetime, *, membership_id: int | None = None,
                   report: ReconcileReport | None = None, pace=lambda: None) -> None:
    """Ask WeChat for every pending refund it has not accepted yet (same out_refund_no each time)."""
    with atomic(session):
        query = (select(PaymentRefund.id, PaymentRefund.out_refund_no, PaymentRefund.amount_fen,
                        PaymentOrder.out_trade_no, PaymentOrder.amount_fen.label("total_fen"))
                 .join(PaymentOrder, PaymentOrder.id == PaymentRefund.order_id)
                 .where(PaymentRefund.status == "pending", PaymentRefund.refund_id.is_(None))
                 .order_by(PaymentRefund.id))
        if membership_id is not None:
            query = query.where(PaymentRefund.membership_id == membership_id)
        todo = session.execute(query).all()
    for refund in todo:
        with atomic(session):
            session.execute(update(PaymentRefund).where(PaymentRefund.id == refund.id)
                            .values(attempts=PaymentRefund.attempts + 1, updated_at=now)
                            .execution_options(synchronize_session=False))
        pace()  # a wind-down's jobs keep within WeChat's rate limit
        try:
            with outside_transaction(session):
                answer = pay.refund(refund.out_refund_no, out_trade_no=refund.out_trade_no,
                                    refund_fen=refund.amount_fen, total_fen=refund.total_fen, reason=REFUND_REASON)
        except PayFailure as exc:
            with atomic(session):
                if isinstance(exc, PayRejected) and not retryable(exc):
                    failed = fail_refund(session, refund.out_refund_no, str(exc), now)
                    if report is not None:
                        report.refunds_failed += failed
                else:  # outcome unknown: the next reconcile asks again with the same out_refund_no
                    session.execute(update(PaymentRefund).where(PaymentRefund.id == refund.id)
                                    .values(last_error=str(exc)[:500]).execution_options(synchronize_session=False))
            if report is not None:
                report.errors.append(f"refund {refund.out_refund_no}: {exc}")
            continue
        with atomic(session):
            session.execute(update(PaymentRefund).where(PaymentRefund.id == refund.id)
                            .values(refund_id=answer.get("refund_id"), last_error=None)
                            .execution_options(synchronize_session=False))
            outcome = apply_wechat_status(session, refund.out_refund_no, answer.get("status"), now)
        if report is not None:
            report.refunds_completed += outcome == "completed"
            report.refunds_failed += outcome == "failed"


def submit_return(session: Session, pay: PayGateway, now: dt.datetime, *, membership_id: int,
                  pace=lambda: None) -> None:
    """A balance return's refunds and transfers that WeChat has not accepted yet (same numbers each time)."""
    submit_refunds(session, pay, now, membership_id=membership_id, pace=pace)
    balance_returns.submit_transfers(session, pay, now, membership_id=membership_id, pace=pace)


def reconcile_refunds(session: Session, pay: PayGateway, now: dt.datetime, report: ReconcileReport) -> None:
    """Pending refunds: resubmit those WeChat never accepted; query the others."""
    with atomic(session):
        pending = session.execute(select(PaymentRefund.out_refund_no, PaymentRefund.refund_id)
                                  .where(PaymentRefund.status == "pending").order_by(PaymentRefund.id)).all()
    report.refunds_checked += len(pending)
    if any(r.refund_id is None for r in pending):
        submit_refunds(session, pay, now, report=report)
    for refund in (r for r in pending if r.refund_id is not None):
        try:
            with outside_transaction(session):
                answer = pay.query_refund(refund.out_refund_no)
        except PayFailure as exc:
            report.errors.append(f"refund {refund.out_refund_no}: {exc}")
            continue
        with atomic(session):
            outcome = apply_wechat_status(session, refund.out_refund_no, answer.get("status"), now)
        report.refunds_completed += outcome == "completed"
        report.refunds_failed += outcome == "failed"
