"""Prepaid top-ups through WeChat Pay v3, exactly once.

The order is ours first (out_trade_no written before WeChat is called); WeChat is called outside
any database transaction; a payment is credited by one function, `settle_transaction`, whether
we learn about it from a notification or from querying the order (reconcile). The credit's
idempotency key is WeChat's transaction_id, and the order row moves to 'paid' in the same
database transaction as the credit, so a duplicate (even a concurrent one) credits nothing."""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field
from typing import Mapping, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, Account, Membership, Plan, PlanVersion, User
from app.models.payments import OPEN_ORDER_STATUSES, PaymentOrder

from . import events, memberships
from .clock import china_date
from .errors import Conflict, InvalidRequest, NotFound, Unavailable
from .plans import fen_to_yuan_text
from .unit_of_work import atomic
from .wechat_resources import Transaction as TransactionResource, validated

log = logging.getLogger(__name__)

ORDER_TTL = dt.timedelta(hours=2)  # a prepay_id is valid for 2 hours
RECONCILE_AFTER = dt.timedelta(minutes=5)  # notifications normally arrive within seconds
TOPUP_KEY_PREFIX = "topup:wechat:"


class PayGateway(Protocol):
    """What top-ups and refunds need from WeChat Pay (wechat.pay.PayClient provides it)."""

    mchid: str
    appid: str

    def create_jsapi_order(self, out_trade_no: str, description: str, amount_fen: int, openid: str) -> str: ...
    def request_payment_params(self, prepay_id: str) -> dict: ...
    def query_order(self, out_trade_no: str) -> dict: ...
    def close_order(self, out_trade_no: str) -> None: ...
    def refund(self, out_refund_no: str, *, out_trade_no: str | None = None, transaction_id: str | None = None,
               refund_fen: int, total_fen: int, reason: str | None = None) -> dict: ...
    def query_refund(self, out_refund_no: str) -> dict: ...
    def parse_notification(self, headers: Mapping[str, str], body: bytes): ...


def _pay_errors():
    from wechat.pay import InvalidNotification, PayError, PayTimeout  # the adapter's own error types

    return PayError, PayTimeout, InvalidNotification


# --- starting a top-up --------------------------------------------------------------------------

@dataclass(frozen=True)
class TopupTarget:
    membership_id: int
    member_user_id: int
    person_name_masked: str
    plan_code: str
    plan_name: str
    state: str
    balance_fen: int
    min_prepay_fen: int


def _target(session: Session, *conditions) -> TopupTarget | None:
    row = session.execute(
        select(Membership.id, Membership.user_id, Membership.person_name_masked, Plan.code, Plan.name,
               Membership.state, Account.balance_fen, PlanVersion.rules)
        .join(Plan, Plan.id == Membership.plan_id)
        .join(PlanVersion, PlanVersion.id == Membership.plan_version_id)
        .join(Account, Account.membership_id == Membership.id)
        .where(*conditions)
    ).first()
    if row is None:
        return None
    return TopupTarget(row.id, row.user_id, row.person_name_masked, row.code, row.name, row.state,
                       row.balance_fen, row.rules["min_prepay_fen"])


def own_target(session: Session, user_id: int, membership_id: int) -> TopupTarget:
    """Another user's membership is indistinguishable from a missing one."""
    found = _target(session, Membership.id == membership_id, Membership.user_id == user_id)
    if found is None:
        raise NotFound("没有找到这份互助", code="membership_not_found")
    return found


def sponsor_target(session: Session, token: str) -> TopupTarget:
    found = _target(session, Membership.sponsor_token == token) if token else None
    if found is None:
        raise NotFound("这个资助链接无效", code="sponsor_link_invalid")
    return found


@dataclass(frozen=True)
class StartedTopup:
    order: PaymentOrder
    payment_params: dict


def _check_amount(target: TopupTarget, amount_fen: int, max_fen: int) -> None:
    if type(amount_fen) is not int or amount_fen <= 0:
        raise InvalidRequest("充值金额必须是正整数（分）", code="amount_invalid")
    if amount_fen > max_fen:
        raise InvalidRequest(f"单次充值不能超过{fen_to_yuan_text(max_fen)}", code="amount_above_ceiling",
                             details={"max_fen": max_fen})
    if target.state == "pending" and target.balance_fen + amount_fen < target.min_prepay_fen:
        raise InvalidRequest(f"首次充值至少{fen_to_yuan_text(target.min_prepay_fen)}", code="amount_below_minimum",
                             details={"min_prepay_fen": target.min_prepay_fen})
    if target.state not in ACTIVE_STATES:
        raise Conflict("这份互助已经结束，不能再充值", code="membership_ended", details={"state": target.state})


def new_out_trade_no(now: dt.datetime) -> str:
    return "T" + china_date(now).strftime("%Y%m%d") + secrets.token_hex(8).upper()  # 25 characters


def start_topup(session: Session, pay: PayGateway, *, target: TopupTarget, payer_user_id: int, amount_fen: int,
                max_fen: int, now: dt.datetime) -> StartedTopup:
    """Record our order, then ask WeChat for a prepay_id (outside the transaction), then return
    what wx.requestPayment needs. A failed WeChat call leaves a 'created' order that reconcile closes."""
    PayError, PayTimeout, _ = _pay_errors()
    _check_amount(target, amount_fen, max_fen)
    with atomic(session):
        openid = session.execute(select(User.openid).where(User.id == payer_user_id)).scalar_one()
        order = PaymentOrder(out_trade_no=new_out_trade_no(now), membership_id=target.membership_id,
                             payer_user_id=payer_user_id, amount_fen=amount_fen, status="created",
                             created_at=now, expires_at=now + ORDER_TTL)
        session.add(order)
    description = f"一起互助-{target.plan_name}-互助金充值"[:127]
    try:
        try:
            prepay_id = pay.create_jsapi_order(order.out_trade_no, description, amount_fen, openid)
        except PayTimeout:  # same out_trade_no and content: WeChat answers with the same prepay_id
            prepay_id = pay.create_jsapi_order(order.out_trade_no, description, amount_fen, openid)
    except PayTimeout:
        raise Unavailable() from None
    except PayError as exc:
        log.warning("jsapi order %s refused: %s", order.out_trade_no, exc)
        raise Unavailable("微信支付下单失败，请稍后再试", code="wechat_pay_order_failed",
                          details={"wechat_code": exc.code}) from None
    with atomic(session):
        session.execute(update(PaymentOrder).where(PaymentOrder.id == order.id, PaymentOrder.status == "created")
                        .values(status="paying", prepay_id=prepay_id).execution_options(synchronize_session=False))
    session.refresh(order)
    return StartedTopup(order=order, payment_params=pay.request_payment_params(prepay_id))


def get_order_for_payer(session: Session, user_id: int, order_id: int) -> PaymentOrder:
    order = session.execute(select(PaymentOrder).where(PaymentOrder.id == order_id,
                                                       PaymentOrder.payer_user_id == user_id)).scalar_one_or_none()
    if order is None:
        raise NotFound("没有找到这笔充值", code="order_not_found")
    return order


def member_user_id(session: Session, membership_id: int) -> int:
    return session.execute(select(Membership.user_id).where(Membership.id == membership_id)).scalar_one()


# --- settling a payment (notification and reconcile share this) ------------------------------

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
            from .refunds import refund_late_payment

            refund_late_payment(session, order, now)
    return SettleResult(order.id, credited=True)


# --- notifications ----------------------------------------------------------------------------

@dataclass(frozen=True)
class NotificationOutcome:
    event_type: str
    changed: bool


def handle_notification(session: Session, pay: PayGateway, headers: Mapping[str, str], body: bytes,
                        now: dt.datetime) -> NotificationOutcome:
    """Verify (signature, platform key, 5-minute timestamp window, AES-GCM) and apply a payment or
    refund notification. A doubtful one raises InvalidRequest/NotFound and changes nothing."""
    _, _, InvalidNotification = _pay_errors()
    try:
        notification = pay.parse_notification(headers, body)
    except InvalidNotification as exc:
        raise InvalidRequest("通知验证失败", code="invalid_notification", details={"reason": exc.reason}) from None
    if notification.event_type == "TRANSACTION.SUCCESS":
        result = settle_transaction(session, pay, notification.resource, now)
        return NotificationOutcome(notification.event_type, result.credited)
    if notification.event_type.startswith("REFUND."):
        from .refunds import apply_refund_notification

        return NotificationOutcome(notification.event_type,
                                   apply_refund_notification(session, pay, notification.resource, now))
    if notification.event_type.startswith("MCHTRANSFER."):
        # Aid payouts (merchant transfers) report to the same notify URL.
        from .payouts import handle_notification as apply_transfer_notification

        from .balance_returns import handle_transfer_notification as apply_return_notification

        transfer = (apply_transfer_notification(session, notification.resource, now)
                    or apply_return_notification(session, notification.resource, now))  # a balance return's
        if transfer is None:
            raise NotFound("没有这笔转账", code="transfer_not_found")
        return NotificationOutcome(notification.event_type, True)
    raise InvalidRequest("不支持的通知类型", code="notification_type_unsupported",
                         details={"event_type": notification.event_type})


# --- reconcile ----------------------------------------------------------------------------------

@dataclass
class ReconcileReport:
    orders_checked: int = 0
    orders_settled: int = 0
    orders_closed: int = 0
    orders_still_open: int = 0
    refunds_checked: int = 0
    refunds_completed: int = 0
    refunds_failed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"orders checked: {self.orders_checked}, settled: {self.orders_settled}, "
                f"closed: {self.orders_closed}, still open: {self.orders_still_open}; "
                f"refunds checked: {self.refunds_checked}, completed: {self.refunds_completed}, "
                f"failed: {self.refunds_failed}; errors: {len(self.errors)}")


def _close_locally(session: Session, order_id: int, now: dt.datetime) -> bool:
    with atomic(session):
        return bool(session.execute(
            update(PaymentOrder).where(PaymentOrder.id == order_id, PaymentOrder.status.in_(OPEN_ORDER_STATUSES))
            .values(status="closed", closed_at=now).execution_options(synchronize_session=False)
        ).rowcount)


def reconcile_order(session: Session, pay: PayGateway, order_id: int, now: dt.datetime,
                    report: ReconcileReport) -> None:
    """Ask WeChat about one open order: settle it if paid, close it if expired."""
    PayError, PayTimeout, _ = _pay_errors()
    with atomic(session):  # no transaction stays open across the WeChat calls
        order = session.execute(select(PaymentOrder.id, PaymentOrder.out_trade_no, PaymentOrder.expires_at)
                                .where(PaymentOrder.id == order_id)).one()
    report.orders_checked += 1
    try:
        try:
            answer = pay.query_order(order.out_trade_no)
        except PayError as exc:
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
            except PayError as exc:
                if exc.code != "ORDER_PAID":
                    raise
                # Paid between our query and the close: settle it now.
                paid = {**pay.query_order(order.out_trade_no), "trade_state": "SUCCESS"}
                report.orders_settled += settle_transaction(session, pay, paid, now).credited
                return
            report.orders_closed += _close_locally(session, order.id, now)
        else:
            report.orders_still_open += 1
    except (PayError, PayTimeout) as exc:
        report.errors.append(f"order {order.out_trade_no}: {exc}")
    except (InvalidRequest, NotFound, Conflict) as exc:
        # A query answer that does not match our order: never credited; an operator must look.
        log.error("order %s: WeChat's answer does not match: %s %s", order.out_trade_no, exc.code, exc.details)
        report.errors.append(f"order {order.out_trade_no}: {exc.code}")


def reconcile(session: Session, pay: PayGateway, now: dt.datetime,
              older_than: dt.timedelta = RECONCILE_AFTER) -> ReconcileReport:
    """Settle or close every order still open `older_than` after it was created, and finish
    every pending refund. Idempotent: safe to run again, and concurrently with notifications."""
    from .refunds import reconcile_refunds

    report = ReconcileReport()
    with atomic(session):
        order_ids = session.execute(
            select(PaymentOrder.id).where(PaymentOrder.status.in_(OPEN_ORDER_STATUSES),
                                          PaymentOrder.created_at <= now - older_than)
            .order_by(PaymentOrder.id)
        ).scalars().all()
    for order_id in order_ids:
        reconcile_order(session, pay, order_id, now, report)
    reconcile_refunds(session, pay, now, report)
    return report


# --- the member's statement -------------------------------------------------------------------

@dataclass(frozen=True)
class Movement:
    transaction_id: int
    created_at: dt.datetime
    amount_fen: int  # + credited to the balance, − taken from it
    reason: str
    reference_type: str | None
    reference_id: str | None
    sponsored: bool
    description: str = ""


def describe_movement(reason: str, reference_id: str | None, key: str, sponsored: bool) -> str:
    """A movement of a member's balance in plain words."""
    if reason == "deduction":
        if ":withheld:" in key:
            return f"第{reference_id}期分摊：结束互助时扣留您应付的份额（准备分摊时您在付款人之列）"
        return f"第{reference_id}期分摊"
    return {
        memberships.TOPUP_REASON: "他人资助充值" if sponsored else "充值",
        "leave": "退出互助，余额原路退回",
        "withheld_returned": f"第{reference_id}期分摊取消，退还结束互助时扣留的份额",
    }.get(reason, reason)


def member_movements(session: Session, membership_id: int, *, page: int, per_page: int) -> tuple[list[Movement], int]:
    """Postings on the membership's balance, newest first: (one page, total count)."""
    from sqlalchemy import func

    from app.models import LedgerTransaction, Posting

    account_id = memberships.member_account_id(session, membership_id)
    payer_id = member_user_id(session, membership_id)
    total = session.execute(select(func.count()).select_from(Posting).where(Posting.account_id == account_id)).scalar_one()
    rows = session.execute(
        select(LedgerTransaction.id, LedgerTransaction.created_at, Posting.amount_fen, LedgerTransaction.reason,
               LedgerTransaction.reference_type, LedgerTransaction.reference_id,
               LedgerTransaction.initiated_by_user_id, LedgerTransaction.idempotency_key)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(Posting.account_id == account_id)
        .order_by(Posting.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    items = []
    for r in rows:
        sponsored = (r.initiated_by_user_id is not None and r.initiated_by_user_id != payer_id
                     and r.reason == memberships.TOPUP_REASON)
        items.append(Movement(r.id, r.created_at, r.amount_fen, r.reason, r.reference_type, r.reference_id,
                              sponsored=sponsored,
                              description=describe_movement(r.reason, r.reference_id, r.idempotency_key, sponsored)))
    return items, total
