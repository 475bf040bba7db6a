"""Top-ups through the services with WeChat Pay faked in memory (tests/fakes.py): SQLite only, no
HTTP. The emulator-backed tests (tests/api/test_topups_api.py, tests/integration/test_payments_flow.py)
cover the same paths end to end; these pin the service rules and run in milliseconds each."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models.payments import PaymentOrder
from app.services import payments
from app.services.errors import InvalidRequest, Unavailable
from app.services.ports import PayOutcomeUnknown, PayRejected
from tests.fakes import world  # noqa: F401  (fixture)


def _order(world, out_trade_no: str) -> PaymentOrder:
    order = world.session.execute(select(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no)).scalar_one()
    world.session.rollback()
    return order


@pytest.fixture
def member(world):
    user_id = world.user()
    return user_id, world.join(user_id)


def test_a_paid_notification_credits_once_and_a_duplicate_credits_nothing(world, member):
    user_id, membership_id = member
    started = world.start_topup(user_id, membership_id, 300)
    out_trade_no = started.order.out_trade_no
    assert started.payment_params["package"] == f"prepay_id={world.pay.orders[out_trade_no]['prepay_id']}"
    assert _order(world, out_trade_no).status == "paying"
    paid = world.pay.payer_pays(out_trade_no)

    first = world.notify("TRANSACTION.SUCCESS", paid)
    again = world.notify("TRANSACTION.SUCCESS", paid)

    assert (first.changed, again.changed) == (True, False)
    assert world.balance(membership_id) == 300
    assert _order(world, out_trade_no).status == "paid"


def test_reconcile_calls_wechat_outside_any_database_transaction(world, member):
    user_id, membership_id = member
    paid_late = world.start_topup(user_id, membership_id, 300).order.out_trade_no
    world.pay.payer_pays(paid_late)
    never_paid = world.start_topup(user_id, membership_id, 400).order.out_trade_no
    world.pay.calls_inside_a_transaction.clear()
    world.clock.advance(hours=3)

    report = payments.reconcile(world.session, world.pay, world.now())

    assert (report.orders_settled, report.orders_closed) == (1, 1)
    assert {("query_order", paid_late), ("query_order", never_paid), ("close_order", never_paid)} <= set(world.pay.calls)
    assert world.pay.calls_inside_a_transaction == []


def test_start_topup_calls_wechat_outside_any_database_transaction(world, member):
    user_id, membership_id = member
    world.start_topup(user_id, membership_id, 300)
    assert [method for method, _ in world.pay.calls] == ["create_jsapi_order"]
    assert world.pay.calls_inside_a_transaction == []


def test_a_timeout_is_retried_once_with_the_same_out_trade_no(world, member):
    user_id, membership_id = member
    world.pay.fail_next("create_jsapi_order", PayOutcomeUnknown("read timed out"))

    started = world.start_topup(user_id, membership_id, 300)

    numbers = [number for method, number in world.pay.calls if method == "create_jsapi_order"]
    assert numbers == [started.order.out_trade_no] * 2
    assert _order(world, started.order.out_trade_no).status == "paying"


def test_a_refused_order_is_unavailable_and_left_for_reconcile_to_close(world, member):
    user_id, membership_id = member
    world.pay.fail_next("create_jsapi_order", PayRejected(400, "PARAM_ERROR", "参数错误"))

    with pytest.raises(Unavailable) as refused:
        world.start_topup(user_id, membership_id, 300)
    assert refused.value.code == "wechat_pay_order_failed" and refused.value.details == {"wechat_code": "PARAM_ERROR"}

    assert world.pay.orders == {}  # WeChat never recorded it
    order = world.session.execute(select(PaymentOrder)).scalar_one()
    world.session.rollback()
    assert order.status == "created"
    world.clock.advance(hours=2, minutes=1)  # past the prepay_id's life
    report = payments.reconcile(world.session, world.pay, world.now())
    assert (report.orders_checked, report.orders_closed) == (1, 1)
    assert _order(world, order.out_trade_no).status == "closed"
    assert world.balance(membership_id) == 0


def test_reconcile_settles_a_payment_whose_notification_was_lost(world, member):
    user_id, membership_id = member
    started = world.start_topup(user_id, membership_id, 500)
    world.pay.payer_pays(started.order.out_trade_no)  # ... and the notification never arrives
    world.clock.advance(minutes=6)

    report = payments.reconcile(world.session, world.pay, world.now())

    assert (report.orders_checked, report.orders_settled, report.errors) == (1, 1, [])
    assert world.balance(membership_id) == 500
    assert payments.reconcile(world.session, world.pay, world.now()).orders_checked == 0


def test_a_notification_that_does_not_verify_changes_nothing(world, member):
    user_id, membership_id = member
    started = world.start_topup(user_id, membership_id, 300)
    paid = world.pay.payer_pays(started.order.out_trade_no)

    with pytest.raises(InvalidRequest) as refused:
        world.notify("TRANSACTION.SUCCESS", paid, signature="forged")

    assert refused.value.code == "invalid_notification" and refused.value.details == {"reason": "bad signature"}
    assert world.balance(membership_id) == 0


@pytest.mark.parametrize("field, value", [
    ("amount", {"total": 30_000, "currency": "CNY"}),  # more than the order
    ("payer", {"openid": "o-someone-else"}),
    ("mchid", "1999999999"),
])
def test_a_notification_that_does_not_match_the_order_credits_nothing(world, member, field, value):
    user_id, membership_id = member
    started = world.start_topup(user_id, membership_id, 300)
    paid = {**world.pay.payer_pays(started.order.out_trade_no), field: value}

    with pytest.raises(InvalidRequest) as refused:
        world.notify("TRANSACTION.SUCCESS", paid)

    assert refused.value.code == "notification_mismatch"
    assert world.balance(membership_id) == 0
    assert _order(world, started.order.out_trade_no).status == "paying"


def test_an_amount_above_the_ceiling_never_reaches_wechat(world, member):
    user_id, membership_id = member
    with pytest.raises(InvalidRequest) as refused:
        world.start_topup(user_id, membership_id, world.config["TOPUP_MAX_FEN"] + 1)
    assert refused.value.code == "amount_above_ceiling"
    assert world.pay.calls == []

