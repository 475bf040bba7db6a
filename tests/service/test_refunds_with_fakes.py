"""Leaving and its refunds through the services with WeChat Pay faked in memory (tests/fakes.py):
SQLite only, no HTTP. Retries are driven by the fake's faults, never by sleeping."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models.payments import PaymentRefund
from app.services import payments, refunds
from app.services.errors import Conflict
from app.services.ports import PayOutcomeUnknown, PayRejected
from app.services.reconciliation import ReconcileReport
from tests.fakes import world  # noqa: F401  (fixture)


@pytest.fixture
def funded(world):
    """A member who topped up twice (300, then 200 fen): two orders to refund, newest first."""
    user_id = world.user()
    membership_id = world.join(user_id)
    first = world.top_up(user_id, membership_id, 300)
    world.clock.advance(days=1)
    second = world.top_up(user_id, membership_id, 200)
    # start_topup's own case is pinned (xfail) in test_payments_with_fakes.py; here: leaving and refunds
    world.pay.calls_inside_a_transaction.clear()
    return user_id, membership_id, (first, second)


def _refunds(world, membership_id: int) -> list[PaymentRefund]:
    rows = refunds.list_refunds(world.session, membership_id)
    world.session.rollback()
    return rows


def _settled(world) -> dict[str, int]:
    return {code: world.account_balance(code) for code in ("system:refund_pending", "system:refunds_out")}


def test_leaving_refunds_each_payment_once_and_completes_on_wechats_word(world, funded):
    user_id, membership_id, (first, second) = funded

    left = refunds.leave(world.session, world.pay, user_id=user_id, membership_id=membership_id, now=world.now())

    assert left.refunded_fen == 500 and world.balance(membership_id) == 0
    asked = {out_refund_no: refund["out_trade_no"] for out_refund_no, refund in world.pay.refunds.items()}
    assert sorted(asked.values()) == sorted([first, second])
    assert [r.status for r in _refunds(world, membership_id)] == ["pending", "pending"]
    assert _settled(world) == {"system:refund_pending": 500, "system:refunds_out": 0}
    assert world.pay.calls_inside_a_transaction == []

    for out_refund_no in asked:
        resource = world.pay.finish_refund(out_refund_no)
        assert world.notify("REFUND.SUCCESS", resource).changed is True
        assert world.notify("REFUND.SUCCESS", resource).changed is False  # a duplicate moves nothing

    assert [r.status for r in _refunds(world, membership_id)] == ["succeeded", "succeeded"]
    assert _settled(world) == {"system:refund_pending": 0, "system:refunds_out": 500}


def test_a_timed_out_refund_stays_pending_and_reconcile_asks_again_with_the_same_number(world, funded):
    user_id, membership_id, _ = funded
    world.pay.refunds_settle_at_once = True
    world.pay.fail_next("refund", PayOutcomeUnknown("read timed out"), times=2)

    refunds.leave(world.session, world.pay, user_id=user_id, membership_id=membership_id, now=world.now())

    pending = _refunds(world, membership_id)
    assert [(r.status, r.attempts) for r in pending] == [("pending", 1), ("pending", 1)]
    assert all("timed out" in r.last_error for r in pending)
    report = ReconcileReport()
    refunds.reconcile_refunds(world.session, world.pay, world.now(), report)

    assert (report.refunds_checked, report.refunds_completed, report.errors) == (2, 2, [])
    numbers = [number for method, number in world.pay.calls if method == "refund"]
    assert sorted(numbers) == sorted([r.out_refund_no for r in pending] * 2)
    assert [(r.status, r.attempts) for r in _refunds(world, membership_id)] == [("succeeded", 2), ("succeeded", 2)]
    assert _settled(world) == {"system:refund_pending": 0, "system:refunds_out": 500}


@pytest.mark.parametrize("code, status", [("NOT_ENOUGH", 403), ("FREQUENCY_LIMITED", 429), ("SYSTEM_ERROR", 500)])
def test_a_temporary_refusal_keeps_the_refund_pending(world, funded, code, status):
    user_id, membership_id, _ = funded
    world.pay.fail_next("refund", PayRejected(status, code, "暂时不行"), times=2)

    refunds.leave(world.session, world.pay, user_id=user_id, membership_id=membership_id, now=world.now())

    assert [r.status for r in _refunds(world, membership_id)] == ["pending", "pending"]
    assert world.pay.refunds == {}


def test_a_final_refusal_fails_the_refund_and_an_operator_retry_gets_a_new_number(world, funded):
    user_id, membership_id, _ = funded
    world.pay.refunds_settle_at_once = True
    world.pay.fail_next("refund", PayRejected(400, "INVALID_REQUEST", "退款失败"))

    refunds.leave(world.session, world.pay, user_id=user_id, membership_id=membership_id, now=world.now())

    failed = [r for r in _refunds(world, membership_id) if r.status == "failed"]
    assert len(failed) == 1 and "INVALID_REQUEST" in failed[0].last_error
    assert failed[0].amount_fen == 200  # the newest payment is refunded first, and asked first
    assert _settled(world) == {"system:refund_pending": 200, "system:refunds_out": 300}  # the failed one waits
    retry = refunds.retry_and_submit(world.session, world.pay, failed[0].id, world.now())
    assert retry.out_refund_no == refunds.retry_out_refund_no(failed[0].out_refund_no)
    assert retry.status == "succeeded"
    assert refunds.retry_and_submit(world.session, world.pay, failed[0].id, world.now()).id == retry.id  # once
    assert _settled(world) == {"system:refund_pending": 0, "system:refunds_out": 500}
    with pytest.raises(Conflict) as refused:
        refunds.retry_failed_refund(world.session, retry.id, world.now())
    assert refused.value.code == "refund_not_failed"


def test_a_payment_arriving_after_leaving_goes_straight_back(world, funded):
    user_id, membership_id, _ = funded
    late = world.start_topup(user_id, membership_id, 400).order.out_trade_no  # started before leaving
    world.pay.refunds_settle_at_once = True
    refunds.leave(world.session, world.pay, user_id=user_id, membership_id=membership_id, now=world.now())

    world.notify("TRANSACTION.SUCCESS", world.pay.payer_pays(late))
    report = payments.reconcile(world.session, world.pay, world.now())

    assert world.balance(membership_id) == 0
    late_refunds = [r for r in world.pay.refunds.values() if r["out_trade_no"] == late]
    assert [(r["refund_fen"], r["status"]) for r in late_refunds] == [(400, "SUCCESS")]
    assert report.refunds_completed == 1
    assert _settled(world) == {"system:refund_pending": 0, "system:refunds_out": 900}
    refunded = world.session.execute(select(PaymentRefund.status)).scalars().all()
    world.session.rollback()
    assert refunded == ["succeeded"] * 3
