"""Refund retries driven by faults planted in the WeChat emulator (no hand stubs): temporary refusals
(SYSTEM_ERROR, FREQUENCY_LIMITED, NOT_ENOUGH while the merchant's balance is low) leave the refund
pending and each reconcile asks again with the same out_refund_no until WeChat accepts; a refusal for
good fails the refund, and `flask payments retry-refund` starts it once more under a new number."""
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models.payments import PaymentRefund
from app.services.audit import audit_ledger
from tests.support import DISCARD_URL, join, paid_topup, point_notifications_at, wait_until


@pytest.fixture(autouse=True)
def lost_notifications(app):
    point_notifications_at(app, DISCARD_URL)  # refund completion comes from reconcile's query


def _leave(client, headers, clock, emulator, amount_fen=500) -> PaymentRefund:
    m = join(client, headers, clock)
    paid_topup(client, emulator, headers, m["id"], amount_fen)
    left = client.post(f"/api/v1/memberships/{m['id']}/leave", headers=headers)
    assert left.status_code == 200, left.get_json()
    [refund] = left.get_json()["refunds"]
    return _row(refund["out_refund_no"])


def _row(out_refund_no) -> PaymentRefund:
    db.session.expire_all()
    return db.session.execute(sa.select(PaymentRefund).where(PaymentRefund.out_refund_no == out_refund_no)).scalar_one()


def _reconcile(runner, clock):
    result = runner.invoke(args=["payments", "reconcile", "--at", clock.now().isoformat()])
    assert result.exit_code == 0, result.output
    return result


def _refund_pending_fen():
    return db.session.execute(sa.text(
        "SELECT balance_fen FROM accounts WHERE code = 'system:refund_pending'")).scalar_one()


def _accepted_then_completed(runner, clock, emulator, number):
    """WeChat accepted the refund under `number`; once it settled, reconcile completes ours."""
    assert number in emulator.state.pay.refunds
    wait_until(lambda: emulator.state.pay.refunds[number].status == "SUCCESS", 10, "the refund to settle at WeChat")
    _reconcile(runner, clock)
    row = _row(number)
    assert row.status == "succeeded" and row.last_error is None
    assert _refund_pending_fen() == 0 and audit_ledger(db.session).ok
    return row


@pytest.mark.parametrize("code,times", [("SYSTEM_ERROR", 1), ("SYSTEM_ERROR", 3), ("FREQUENCY_LIMITED", 2)])
def test_temporary_refusals_stay_pending_and_reconcile_asks_again_with_the_same_number(
        client, alice, clock, emulator, runner, code, times):
    emulator.state.pay.refuse_next_refunds(code, times=times)
    refund = _leave(client, alice, clock, emulator)
    number = refund.out_refund_no
    for attempt in range(1, times + 1):  # the leave's own attempt, then times - 1 reconciles, all refused
        assert (refund.status, refund.refund_id, refund.attempts) == ("pending", None, attempt)
        assert code in refund.last_error and number not in emulator.state.pay.refunds
        if attempt < times:
            assert f"refund {number}" in _reconcile(runner, clock).output  # the error is reported
            refund = _row(number)
    _reconcile(runner, clock)
    refund = _row(number)
    assert refund.refund_id == emulator.state.pay.refunds[number].refund_id and refund.attempts == times + 1
    assert _accepted_then_completed(runner, clock, emulator, number).amount_fen == 500


def test_not_enough_while_the_merchant_balance_is_low_then_the_same_number_succeeds(
        client, alice, clock, emulator, runner):
    emulator.state.pay.set_merchant_balance(499)  # one fen short of the 500 fen refund
    refund = _leave(client, alice, clock, emulator)
    number = refund.out_refund_no
    assert refund.status == "pending" and "NOT_ENOUGH" in refund.last_error
    _reconcile(runner, clock)  # still short: still pending, still nothing at WeChat
    refund = _row(number)
    assert (refund.status, refund.attempts) == ("pending", 2) and number not in emulator.state.pay.refunds
    emulator.state.pay.set_merchant_balance(10_000)  # the operators top the merchant account up
    _reconcile(runner, clock)
    assert _row(number).attempts == 3 and emulator.state.pay.merchant_balance_fen == 9_500
    _accepted_then_completed(runner, clock, emulator, number)


def test_a_refusal_for_good_fails_the_refund_and_retry_refund_asks_once_under_a_new_number(
        client, alice, clock, emulator, runner):
    earlier = set(emulator.state.pay.refunds)  # the emulator is shared by the session

    def ours():
        return [n for n in emulator.state.pay.refunds if n not in earlier]

    emulator.state.pay.refuse_next_refunds("INVALID_REQUEST")
    failed = _leave(client, alice, clock, emulator)
    assert failed.status == "failed" and "INVALID_REQUEST" in failed.last_error
    assert failed.out_refund_no not in emulator.state.pay.refunds
    assert _refund_pending_fen() == 500  # stuck: what retry-refund is for
    _reconcile(runner, clock)  # reconcile never resubmits a failed refund
    assert _row(failed.out_refund_no).status == "failed" and ours() == []

    result = runner.invoke(args=["payments", "retry-refund", str(failed.id), "--at", clock.now().isoformat()])
    assert result.exit_code == 0, result.output
    [retry] = db.session.execute(sa.select(PaymentRefund).where(PaymentRefund.id != failed.id)).scalars().all()
    assert (retry.order_id, retry.membership_id, retry.amount_fen) == (failed.order_id, failed.membership_id, 500)
    assert retry.out_refund_no != failed.out_refund_no
    assert ours() == [retry.out_refund_no]
    _accepted_then_completed(runner, clock, emulator, retry.out_refund_no)
    # Once per failed refund: again names the same retry and asks WeChat nothing new.
    again = runner.invoke(args=["payments", "retry-refund", str(failed.id)])
    assert again.exit_code == 0 and f"refund {retry.id}" in again.output
    assert ours() == [retry.out_refund_no]
    assert db.session.execute(sa.select(sa.func.count()).select_from(PaymentRefund)).scalar_one() == 2
    refused = runner.invoke(args=["payments", "retry-refund", str(retry.id)])
    assert refused.exit_code != 0 and "refund_not_failed" in refused.output
