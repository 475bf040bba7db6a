"""Starting a top-up: whose membership (own, or a sponsor's link), the amount rules, our order
first (out_trade_no written before WeChat is called), then WeChat's prepay_id outside any
database transaction."""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, Account, Membership, Plan, PlanVersion, User
from app.models.payments import PaymentOrder

from ..clock import china_date
from ..errors import Conflict, InvalidRequest, NotFound, Unavailable
from ..money import fen_to_yuan_text
from ..ports import PayGateway, PayOutcomeUnknown, PayRejected
from ..unit_of_work import atomic, outside_transaction

log = logging.getLogger(__name__)


ORDER_TTL = dt.timedelta(hours=2)  # a prepay_id is valid for 2 hours


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
    _check_amount(target, amount_fen, max_fen)
    with atomic(session):
        openid = session.execute(select(User.openid).where(User.id == payer_user_id)).scalar_one()
        order = PaymentOrder(out_trade_no=new_out_trade_no(now), membership_id=target.membership_id,
                             payer_user_id=payer_user_id, amount_fen=amount_fen, status="created",
                             created_at=now, expires_at=now + ORDER_TTL)
        session.add(order)
        session.flush()
        order_id, out_trade_no = order.id, order.out_trade_no  # the commit expires `order`
    description = f"一起互助-{target.plan_name}-互助金充值"[:127]
    try:
        with outside_transaction(session):
            try:
                prepay_id = pay.create_jsapi_order(out_trade_no, description, amount_fen, openid)
            except PayOutcomeUnknown:  # same out_trade_no and content: WeChat answers with the same prepay_id
                prepay_id = pay.create_jsapi_order(out_trade_no, description, amount_fen, openid)
    except PayOutcomeUnknown:
        raise Unavailable() from None
    except PayRejected as exc:
        log.warning("jsapi order %s refused: %s", out_trade_no, exc)
        raise Unavailable("微信支付下单失败，请稍后再试", code="wechat_pay_order_failed",
                          details={"wechat_code": exc.code}) from None
    with atomic(session):
        session.execute(update(PaymentOrder).where(PaymentOrder.id == order_id, PaymentOrder.status == "created")
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
