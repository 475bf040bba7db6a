"""Money of a membership going back to the WeChat payments it came from (caller's transaction):
the balance part moves to system:refund_pending and one refund row per order, newest payment
first, within WeChat's one-year limit. WeChat is asked afterwards, outside the transaction
(refunds.submit_refunds, or the next reconcile)."""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models.payments import PaymentOrder, PaymentRefund

from . import ledger, memberships
from .errors import Conflict
from .money import fen_to_yuan_text

REFUND_WINDOW = dt.timedelta(days=365)  # WeChat refunds a payment up to one year after it
LEAVE_REASON = "leave"


def new_out_refund_no() -> str:
    return "R" + secrets.token_hex(12).upper()


def refundable_orders(session: Session, membership_id: int, now: dt.datetime) -> list[tuple[int, int]]:
    """(order id, fen still refundable) of paid orders within the refund window, newest first."""
    refunded = (
        select(PaymentRefund.order_id, func.sum(PaymentRefund.amount_fen).label("fen"))
        .where(PaymentRefund.status != "failed").group_by(PaymentRefund.order_id).subquery()
    )
    rows = session.execute(
        select(PaymentOrder.id, PaymentOrder.amount_fen - func.coalesce(refunded.c.fen, 0))
        .outerjoin(refunded, refunded.c.order_id == PaymentOrder.id)
        .where(PaymentOrder.membership_id == membership_id, PaymentOrder.status == "paid",
               PaymentOrder.paid_at > now - REFUND_WINDOW)
        .order_by(PaymentOrder.paid_at.desc(), PaymentOrder.id.desc())
    ).all()
    return [(order_id, int(fen)) for order_id, fen in rows if fen > 0]  # PostgreSQL sums are Decimal


def allocate(balance_fen: int, orders: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spread a balance over orders (already newest first): [(order id, fen)]."""
    allocation, left = [], balance_fen
    for order_id, refundable in orders:
        if left <= 0:
            break
        take = min(left, refundable)
        allocation.append((order_id, take))
        left -= take
    return allocation


def refundable_allocation(session: Session, membership_id: int, amount_fen: int,
                          now: dt.datetime) -> list[tuple[int, int]]:
    """The orders that take `amount_fen` back; Conflict when part of it is older than a year."""
    allocation = allocate(amount_fen, refundable_orders(session, membership_id, now))
    unrefundable = amount_fen - sum(fen for _, fen in allocation)
    if unrefundable:
        raise Conflict(
            f"余额中有{fen_to_yuan_text(unrefundable)}无法原路退回（付款已超过一年），请联系客服处理",
            code="refund_not_possible", details={"unrefundable_fen": unrefundable},
        )
    return allocation


def move_to_refund_pending(session: Session, *, membership_id: int, amount_fen: int, key: str,
                           now: dt.datetime, user_id: int | None, reason: str = LEAVE_REASON) -> None:
    ledger.post_transaction(
        session, idempotency_key=key, reason=reason,
        legs=[ledger.Leg(memberships.member_account_id(session, membership_id), -amount_fen),
              ledger.Leg(ledger.account_id(session, "system:refund_pending"), amount_fen)],
        now=now, reference_type="membership", reference_id=str(membership_id), initiated_by_user_id=user_id,
    )


def add_refund(session: Session, *, order_id: int, membership_id: int, amount_fen: int, now: dt.datetime) -> None:
    session.add(PaymentRefund(out_refund_no=new_out_refund_no(), order_id=order_id, membership_id=membership_id,
                              amount_fen=amount_fen, status="pending", attempts=0, created_at=now, updated_at=now))


def refund_to_payments(session: Session, *, membership_id: int, amount_fen: int, key: str, now: dt.datetime,
                       user_id: int | None) -> None:
    """Balance → refund pending and the refund rows, newest payment first (Conflict if part of it
    cannot go back the way it came)."""
    allocation = refundable_allocation(session, membership_id, amount_fen, now)
    if amount_fen:
        move_to_refund_pending(session, membership_id=membership_id, amount_fen=amount_fen, key=key, now=now,
                               user_id=user_id)
    for order_id, fen in allocation:
        add_refund(session, order_id=order_id, membership_id=membership_id, amount_fen=fen, now=now)
