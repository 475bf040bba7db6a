"""Edges of suspension, ending a membership and refunds: an incident while suspended, observation
ending during a suspension, a payment settling after the membership ended; refund refusals and retries are in tests/api/test_refund_retries.py."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Membership
from app.services import claims, memberships
from app.services.clock import china_date
from app.services.errors import InvalidRequest
from app.services.unit_of_work import atomic
from tests.support import join_and_fund, make_protected, login_as
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
    headers = login_as(client, emulator, "o-suspended")
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
    headers = login_as(client, emulator, "o-suspended-observing")
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

    headers = login_as(client, emulator, f"o-late-{ended_state}")
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

