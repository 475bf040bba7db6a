"""Ledger flows for report tests, posted exactly as the services post them (same reasons, legs,
references): top-ups own and sponsored, a leave into refund_pending, a refund completed, aid paid."""
from __future__ import annotations

import datetime as dt
import itertools

from app.models import Membership, PaymentOrder, PaymentRefund, Plan
from app.services import ledger, memberships, refund_orders, refunds
from app.services.unit_of_work import atomic

_n = itertools.count(1)


def top_up(session, membership_id: int, amount_fen: int, now: dt.datetime, *, payer_user_id: int | None = None) -> None:
    with atomic(session):
        owner = session.get(Membership, membership_id).user_id
        memberships.credit(session, membership_id=membership_id, amount_fen=amount_fen,
                           idempotency_key=f"rep-topup-{next(_n)}", now=now, reference_type="order",
                           initiated_by_user_id=payer_user_id or owner)


def leave_and_refund(session, membership_id: int, now: dt.datetime, *, complete: bool = True) -> int:
    """The whole balance to refund_pending (reason leave), then its refund completed."""
    with atomic(session):
        balance = ledger.balance_of(session, memberships.member_account_id(session, membership_id))
        if not balance:
            return 0
        m = session.get(Membership, membership_id)
        refund_orders.move_to_refund_pending(session, membership_id=membership_id, amount_fen=balance,
                                             key=f"rep-leave-{next(_n)}", now=now, user_id=m.user_id)
        order = PaymentOrder(out_trade_no=f"rep{next(_n)}", membership_id=membership_id, payer_user_id=m.user_id,
                             amount_fen=balance, status="paid", created_at=now, expires_at=now, paid_at=now)
        session.add(order)
        session.flush()
        refund = PaymentRefund(out_refund_no=f"rep-r{next(_n)}", order_id=order.id, membership_id=membership_id,
                               amount_fen=balance, status="pending", attempts=1, created_at=now, updated_at=now)
        session.add(refund)
        session.flush()
        if complete:
            refunds.complete_refund(session, refund.out_refund_no, now)
    return balance


def pay_aid(session, plan_code: str, amount_fen: int, now: dt.datetime) -> None:
    """Aid payable → aid paid out, as payouts._settle posts it."""
    with atomic(session):
        ledger.post_transaction(
            session, idempotency_key=f"rep-aid-{next(_n)}", reason="aid_payout", now=now,
            legs=[ledger.Leg(ledger.account_id(session, ledger.plan_account_code(plan_code, "aid_payable")), -amount_fen),
                  ledger.Leg(ledger.account_id(session, "system:aid_paid_out"), amount_fen)],
            reference_type="payout_transfer", reference_id=f"bill-{next(_n)}")


def plan_id(session, code: str) -> int:
    return session.query(Plan.id).filter_by(code=code).scalar()
