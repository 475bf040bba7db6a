"""Settling a payment, exactly once, whether we learn of it from a notification or from querying
the order: the credit's idempotency key is WeChat's transaction_id and the order moves to 'paid' in
the same database transaction. Also the notify URL's dispatch (payments, refunds, transfers)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, Membership, User
from app.models.payments import PaymentOrder

from .. import balance_returns, events, memberships, payouts, refunds
from ..errors import Conflict, InvalidRequest, NotFound
from ..ports import InvalidNotification, PayGateway
from ..unit_of_work import atomic
from ..wechat_resources import Transaction as TransactionResource, validated


TOPUP_KEY_PREFIX = "topup:wechat:"


@dataclass(frozen=True)
class SettleResult:
    order_id: int
    credited: bool  # False: a duplicate, nothing changed


def settle_transaction(session: Session, pay: PayGateway, transaction: dict, now: dt.datetime) -> SettleResult:
    """Credit the membership for a paid WeChat transaction, exactly once.

    `transaction` is the decrypted notification resource or an order query's answer. Anything
    that does not match our order, or is not shaped like a transaction, is refused and changes nothing."""
    transaction = validated(TransactionResource, transaction)
    if transaction.get("appid") != pay.appid or transaction.get("mchid") != pay.mchid:
        raise InvalidRequest("商户号或appid不符", code="notification_mismatch", details={"field": "appid/mchid"})
    if transaction.get("trade_state") != "SUCCESS":
        raise InvalidRequest("交易未成功", code="notification_not_success",
                             details={"trade_state": transaction.get("trade_state")})
    transaction_id = transaction.get("transaction_id")
    if not isinstance(transaction_id, str) or not transaction_id:
        raise InvalidRequest("缺少微信支付订单号", code="notification_mismatch", details={"field": "transaction_id"})
    out_trade_no = transaction.get("out_trade_no")
    amount = transaction.get("amount") or {}
    with atomic(session):
        order = session.execute(select(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no)
                                .with_for_update(key_share=True)).scalar_one_or_none()
        if order is None:
            raise NotFound("没有这笔订单", code="order_not_found")
        if amount.get("total") != order.amount_fen or amount.get("currency", "CNY") != "CNY":
            raise InvalidRequest("金额与订单不符", code="notification_mismatch", details={"field": "amount"})
        payer_openid = session.execute(select(User.openid).where(User.id == order.payer_user_id)).scalar_one()
        if (transaction.get("payer") or {}).get("openid") != payer_openid:
            raise InvalidRequest("付款人与订单不符", code="notification_mismatch", details={"field": "payer"})
        if order.status == "paid":
            if order.transaction_id != transaction_id:
                raise Conflict("订单已由另一笔交易支付", code="order_paid_by_other_transaction")
            return SettleResult(order.id, credited=False)
        # Conditional update: under concurrency exactly one settles; the row lock orders the rest.
        changed = session.execute(
            update(PaymentOrder).where(PaymentOrder.id == order.id, PaymentOrder.status != "paid")
            .values(status="paid", transaction_id=transaction_id, paid_at=now, closed_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            return SettleResult(order.id, credited=False)
        # Locked: a concurrent leave either sees this credit or is seen as 'left' here.
        member = session.execute(select(Membership.user_id, Membership.plan_id, Membership.state)
                                 .where(Membership.id == order.membership_id).with_for_update()).one()
        posted = memberships.credit(
            session, membership_id=order.membership_id, amount_fen=order.amount_fen,
            idempotency_key=TOPUP_KEY_PREFIX + transaction_id, now=now, reference_type="order",
            reference_id=str(order.id), initiated_by_user_id=order.payer_user_id,
        )
        if posted.replayed:
            return SettleResult(order.id, credited=False)
        sponsor = order.payer_user_id if order.payer_user_id != member.user_id else None
        events.record(session, "topup.credited", now=now, user_id=member.user_id, plan_id=member.plan_id,
                      membership_id=order.membership_id,
                      payload={"amount_fen": order.amount_fen, "order_id": order.id, "sponsor_user_id": sponsor})
        if member.state not in ACTIVE_STATES:
            # Paid after the membership ended (left, lapsed, aided; e.g. a sponsor's late payment):
            # it goes straight back to its payer.
            refunds.refund_late_payment(session, order, now)
    return SettleResult(order.id, credited=True)


@dataclass(frozen=True)
class NotificationOutcome:
    event_type: str
    changed: bool


def handle_notification(session: Session, pay: PayGateway, headers: Mapping[str, str], body: bytes,
                        now: dt.datetime) -> NotificationOutcome:
    """Verify (signature, platform key, 5-minute timestamp window, AES-GCM) and apply a payment or
    refund notification. A doubtful one raises InvalidRequest/NotFound and changes nothing."""
    try:
        notification = pay.parse_notification(headers, body)
    except InvalidNotification as exc:
        raise InvalidRequest("通知验证失败", code="invalid_notification", details={"reason": exc.reason}) from None
    if notification.event_type == "TRANSACTION.SUCCESS":
        result = settle_transaction(session, pay, notification.resource, now)
        return NotificationOutcome(notification.event_type, result.credited)
    if notification.event_type.startswith("REFUND."):
        return NotificationOutcome(notification.event_type,
                                   refunds.apply_refund_notification(session, pay, notification.resource, now))
    if notification.event_type.startswith("MCHTRANSFER."):
        # Aid payouts and balance returns (merchant transfers) report to the same notify URL.
        transfer = (payouts.handle_notification(session, notification.resource, now)
                    or balance_returns.handle_transfer_notification(session, notification.resource, now))
        if transfer is None:
            raise NotFound("没有这笔转账", code="transfer_not_found")
        return NotificationOutcome(notification.event_type, True)
    raise InvalidRequest("不支持的通知类型", code="notification_type_unsupported",
                         details={"event_type": notification.event_type})
