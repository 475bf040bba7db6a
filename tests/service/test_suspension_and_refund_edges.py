"""Edges of suspension, ending a membership and refunds: an incident while suspended, observation
ending during a suspension, a payment settling after the membership ended, refund refusals and retries."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.container import container_of
from app.extensions import db
from app.models import Membership
from app.services import claims, memberships
from app.services.clock import china_date
from app.services.errors import InvalidRequest
from app.services.unit_of_work import atomic
from tests.claims_support import join_and_fund, make_protected, member
from tests.support import report_consented


def _suspend(membership_id, now, grace_days=30):
    """What an apportionment run does to a member who cannot pay a share (test-only)."""
    with atomic(db.session):
        db.session.execute(sa.update(Membership).where(Membership.id == membership_id).values(
            state="suspended", state_before_suspension=Membership.state, suspended_at=now,
            grace_ends_at=now + dt.timedelta(days=grace_days), state_changed_at=now))


def _top_up(membership_id, clock, key):
    with atomic(db.session):
        memberships.credit(db.session, membership_id=membership_id, amount_fen=500, idempotency_key=key,
                           now=clock.now())


def _report(user_id, membership_id, clock, incident: dt.date):
    request = claims.ReportRequest(membership_id=membership_id, incident_type="illness", incident_date=incident,
                                   diagnosis_date=china_date(clock.now()), diagnosis="急性白血病",
                                   hospital="北京协和医院", city="北京")
    return report_consented(db.session, user_id=user_id, request=request, now=clock.now())


def _user_id(membership_id):
    return db.session.execute(sa.select(Membership.user_id).where(Membership.id == membership_id)).scalar_one()


def test_incident_while_suspended_is_refused_after_resuming(client, clock, emulator):
    headers = member(client, emulator, "o-suspended")
    membership_id, _ = join_and_fund(client, headers, clock)
    make_protected(clock)
    _suspend(membership_id, clock.now())
    clock.advance(days=10)
    sick_on = china_date(clock.now())  # diagnosed while suspended
    clock.advance(days=5)
    _top_up(membership_id, clock, "resume-1")
    membership = db.session.get(Membership, membership_id)
    db.session.refresh(membership)
    assert membership.state == "protected" and membership.coverage_resumed_at == clock.now()
    user_id = _user_id(membership_id)
    for incident in (sick_on, china_date(clock.now())):  # during the suspension; the resume day itself
        with pytest.raises(InvalidRequest) as err:
            _report(user_id, membership_id, clock, incident)
        assert err.value.code == "incident_while_suspended" and "暂停" in err.value.message
    clock.advance(days=1)
    assert _report(user_id, membership_id, clock, china_date(clock.now())).status == "submitted"


def test_observation_ending_during_a_suspension_does_not_cover_it(client, clock, emulator):
    headers = member(client, emulator, "o-suspended-observing")
    membership_id, _ = join_and_fund(client, headers, clock)
    clock.advance(days=170)
    _suspend(membership_id, clock.now())
    clock.advance(days=20)  # the observation ended 10 days ago, while suspended
    sick_on = china_date(clock.now()) - dt.timedelta(days=3)
    _top_up(membership_id, clock, "resume-2")
    memberships.advance(db.session, clock.now())  # observing → protected, protected_at backdated
    membership = db.session.get(Membership, membership_id)
    db.session.refresh(membership)
    assert membership.state == "protected" and membership.protected_at < clock.now()
    assert sick_on > china_date(membership.observation_ends_at)
    with pytest.raises(InvalidRequest) as err:
        _report(_user_id(membership_id), membership_id, clock, sick_on)
    assert err.value.code == "incident_while_suspended"


class _Pay:
    appid, mchid = "wx-review-app", "1900000001"


@pytest.mark.parametrize("ended_state", ["lapsed", "aided", "left"])
def test_payment_settling_after_the_membership_ended_goes_back(client, clock, emulator, ended_state):
    from app.models import Account, User
    from app.models.payments import PaymentOrder, PaymentRefund
    from app.services import payments

    headers = member(client, emulator, f"o-late-{ended_state}")
    membership_id, _ = join_and_fund(client, headers, clock)
    user_id = _user_id(membership_id)
    with atomic(db.session):
        order = PaymentOrder(out_trade_no=f"T{ended_state}{membership_id}", membership_id=membership_id,
                             payer_user_id=user_id, amount_fen=700, status="paying", created_at=clock.now(),
                             expires_at=clock.now() + dt.timedelta(hours=2))
        db.session.add(order)
        db.session.execute(sa.update(Membership).where(Membership.id == membership_id)
                           .values(state=ended_state, ended_at=clock.now(), state_changed_at=clock.now()))
    openid = db.session.get(User, user_id).openid
    transaction = {"appid": _Pay.appid, "mchid": _Pay.mchid, "trade_state": "SUCCESS",
                   "transaction_id": f"42{membership_id:08d}{len(ended_state)}", "out_trade_no": order.out_trade_no,
                   "amount": {"total": 700, "currency": "CNY"}, "payer": {"openid": openid}}
    assert payments.settle_transaction(db.session, _Pay(), transaction, clock.now()).credited
    balance = db.session.execute(sa.select(Account.balance_fen)
                                 .where(Account.membership_id == membership_id)).scalar_one()
    refunds = db.session.execute(sa.select(PaymentRefund.amount_fen, PaymentRefund.status)
                                 .where(PaymentRefund.order_id == order.id)).all()
    assert balance == 300 and [tuple(r) for r in refunds] == [(700, "pending")]


class _RefundPay(_Pay):
    """A WeChat Pay stub: refund() raises the queued errors in turn, then accepts."""

    def __init__(self, *errors):
        self.errors, self.asked = list(errors), []

    def refund(self, out_refund_no, **kwargs):
        self.asked.append(out_refund_no)
        if self.errors:
            raise self.errors.pop(0)
        return {"refund_id": f"50{len(self.asked):030d}", "status": "SUCCESS"}

    def query_refund(self, out_refund_no):
        return {"status": "PROCESSING"}


def _left_with_a_paid_order(client, clock, emulator, openid, pay):
    """A member whose 300 fen came from one paid order leaves: one refund of 300 fen is asked of `pay`."""
    from app.models.payments import PaymentOrder
    from app.services import refunds

    headers = member(client, emulator, openid)
    membership_id, _ = join_and_fund(client, headers, clock)
    user_id = _user_id(membership_id)
    with atomic(db.session):
        db.session.add(PaymentOrder(out_trade_no=f"TL{membership_id}", membership_id=membership_id,
                                    payer_user_id=user_id, amount_fen=300, status="paid", transaction_id=f"43{membership_id}",
                                    created_at=clock.now(), expires_at=clock.now(), paid_at=clock.now()))
    result = refunds.leave(db.session, pay, user_id=user_id, membership_id=membership_id, now=clock.now())
    assert len(result.refunds) == 1
    return membership_id, result.refunds[0].id


@pytest.mark.parametrize("code", ["NOT_ENOUGH", "FREQUENCY_LIMITED", "SYSTEM_ERROR"])
def test_temporary_refund_refusals_stay_pending_and_reconcile_retries_the_same_number(client, clock, emulator, code):
    from app.models.payments import PaymentRefund
    from app.services.payments import ReconcileReport
    from app.services.refunds import reconcile_refunds
    from app.services.ports import PayRejected

    pay = _RefundPay(PayRejected(400 if code != "SYSTEM_ERROR" else 500, code, "暂时不行"))
    _, refund_id = _left_with_a_paid_order(client, clock, emulator, f"o-temp-{code}", pay)
    refund = db.session.get(PaymentRefund, refund_id)
    db.session.refresh(refund)
    assert refund.status == "pending" and code in refund.last_error
    reconcile_refunds(db.session, pay, clock.now(), ReconcileReport())
    db.session.refresh(refund)
    assert refund.status == "succeeded" and pay.asked == [refund.out_refund_no] * 2


def test_a_failed_refund_is_retried_once_with_a_new_number(app, client, clock, emulator):
    from app.models.payments import PaymentRefund
    from app.services.audit import audit_ledger
    from app.services.refunds import retry_failed_refund
    from app.services.ports import PayRejected

    pay = _RefundPay(PayRejected(400, "INVALID_REQUEST", "退款失败"))
    membership_id, refund_id = _left_with_a_paid_order(client, clock, emulator, "o-failed-refund", pay)
    failed = db.session.get(PaymentRefund, refund_id)
    assert failed.status == "failed"
    pending_fen = lambda: db.session.execute(sa.text(  # noqa: E731
        "SELECT balance_fen FROM accounts WHERE code = 'system:refund_pending'")).scalar_one()
    assert pending_fen() == 300  # stuck: the reason for retry-refund

    container_of(app).override(pay=pay)
    result = app.test_cli_runner().invoke(args=["payments", "retry-refund", str(refund_id), "--at",
                                                clock.now().isoformat()])
    assert result.exit_code == 0, result.output
    retries = db.session.execute(sa.select(PaymentRefund).where(PaymentRefund.id != refund_id)).scalars().all()
    assert len(retries) == 1
    retry = retries[0]
    assert (retry.order_id, retry.membership_id, retry.amount_fen) == (failed.order_id, membership_id, 300)
    assert retry.out_refund_no != failed.out_refund_no and pay.asked[-1] == retry.out_refund_no
    db.session.refresh(retry)
    assert retry.status == "succeeded" and pending_fen() == 0
    # Once per failed refund: again gives the same retry, and nothing new is asked of WeChat.
    assert retry_failed_refund(db.session, refund_id, clock.now()).id == retry.id
    again = app.test_cli_runner().invoke(args=["payments", "retry-refund", str(refund_id)])
    assert again.exit_code == 0 and f"refund {retry.id}" in again.output
    assert len(pay.asked) == 2 and db.session.execute(sa.select(sa.func.count()).select_from(PaymentRefund)).scalar_one() == 2
    refused = app.test_cli_runner().invoke(args=["payments", "retry-refund", str(retry.id)])
    assert refused.exit_code != 0 and "refund_not_failed" in refused.output
    assert audit_ledger(db.session).ok
