"""Reconcile: ask WeChat about every order still open a while after it was created (settle the
paid, close the expired) and finish every pending refund. Idempotent; safe beside notifications."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models.payments import OPEN_ORDER_STATUSES, PaymentOrder

from .. import refunds
from ..errors import Conflict, InvalidRequest, NotFound
from ..ports import PayFailure, PayGateway, PayRejected
from ..reconciliation import ReconcileReport
from ..unit_of_work import atomic
from .settlement import settle_transaction

log = logging.getLogger(__name__)


RECONCILE_AFTER = dt.timedelta(minutes=5)  # notifications normally arrive within seconds


def _close_locally(session: Session, order_id: int, now: dt.datetime) -> bool:
    with atomic(session):
        return bool(session.execute(
            update(PaymentOrder).where(PaymentOrder.id == order_id, PaymentOrder.status.in_(OPEN_ORDER_STATUSES))
            .values(status="closed", closed_at=now).execution_options(synchronize_session=False)
        ).rowcount)


def reconcile_order(session: Session, pay: PayGateway, order_id: int, now: dt.datetime,
                    report: ReconcileReport) -> None:
    """Ask WeChat about one open order: settle it if paid, close it if expired."""
    with atomic(session):  # no transaction stays open across the WeChat calls
        order = session.execute(select(PaymentOrder.id, PaymentOrder.out_trade_no, PaymentOrder.expires_at)
                                .where(PaymentOrder.id == order_id)).one()
    report.orders_checked += 1
    try:
        try:
            answer = pay.query_order(order.out_trade_no)
        except PayRejected as exc:
            if exc.status == 404 and now >= order.expires_at:  # WeChat never got the order
                report.orders_closed += _close_locally(session, order.id, now)
            else:
                report.orders_still_open += 1
            return
        state = answer.get("trade_state")
        if state in ("SUCCESS", "REFUND"):
            answer = {**answer, "trade_state": "SUCCESS"}  # paid (and maybe already refunded since)
            report.orders_settled += settle_transaction(session, pay, answer, now).credited
        elif state in ("CLOSED", "REVOKED", "PAYERROR"):
            report.orders_closed += _close_locally(session, order.id, now)
        elif now >= order.expires_at:
            try:
                pay.close_order(order.out_trade_no)
            except PayRejected as exc:
                if exc.code != "ORDER_PAID":
                    raise
                # Paid between our query and the close: settle it now.
                paid = {**pay.query_order(order.out_trade_no), "trade_state": "SUCCESS"}
                report.orders_settled += settle_transaction(session, pay, paid, now).credited
                return
            report.orders_closed += _close_locally(session, order.id, now)
        else:
            report.orders_still_open += 1
    except PayFailure as exc:
        report.errors.append(f"order {order.out_trade_no}: {exc}")
    except (InvalidRequest, NotFound, Conflict) as exc:
        # A query answer that does not match our order: never credited; an operator must look.
        log.error("order %s: WeChat's answer does not match: %s %s", order.out_trade_no, exc.code, exc.details)
        report.errors.append(f"order {order.out_trade_no}: {exc.code}")


def reconcile(session: Session, pay: PayGateway, now: dt.datetime,
              older_than: dt.timedelta = RECONCILE_AFTER) -> ReconcileReport:
    """Settle or close every order still open `older_than` after it was created, and finish
    every pending refund. Idempotent: safe to run again, and concurrently with notifications."""
    report = ReconcileReport()
    with atomic(session):
        order_ids = session.execute(
            select(PaymentOrder.id).where(PaymentOrder.status.in_(OPEN_ORDER_STATUSES),
                                          PaymentOrder.created_at <= now - older_than)
            .order_by(PaymentOrder.id)
        ).scalars().all()
    for order_id in order_ids:
        reconcile_order(session, pay, order_id, now, report)
    refunds.reconcile_refunds(session, pay, now, report)
    return report
