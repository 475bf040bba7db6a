"""Delivery: outbox → emulator through MiniProgramClient, quotas, error classes, retries, leases."""
import datetime as dt

import pytest
import sqlalchemy as sa

from app import jobs
from app.models import Membership, SubscribeQuota
from app.services import apportionment, delivery, memberships, subscriptions
from app.services.errors import InvalidRequest
from app.services.unit_of_work import atomic
from tests.support import add_claim, consent, delivered, member, new_user, record, rows, run_postings

SEND_PATH = "cgi-bin/message/subscribe/send"


def _plan_id(session, code="adult_789"):
    return session.execute(sa.text("SELECT id FROM plans WHERE code = :c"), {"c": code}).scalar_one()


def _quota(session, user, key):
    session.expire_all()
    return session.execute(sa.select(SubscribeQuota.remaining).where(
        SubscribeQuota.user_id == user.id, SubscribeQuota.template_key == key)).scalar_one_or_none()


def _drain(app, clock):
    return jobs.dispatch(app, now=clock.now())


def _fault(emulator, **fault):
    from wechat.emulator.state import Fault

    emulator.state.add_fault(Fault(path=SEND_PATH, **fault))


def test_case_announcement_reaches_consenting_members_once(app, session, services, emulator, clock):
    yes, no = new_user(session, clock), new_user(session, clock)
    m_yes = member(session, services, clock, yes.id)
    member(session, services, clock, no.id)
    consent(session, services, emulator, yes, "case_announced")
    record(session, "run.published", clock, plan_id=_plan_id(session), run_id=1,
           payload={"share_fen": 150, "case_count": 2})
    assert _drain(app, clock) == 4  # two observing notices and two announcements
    template = services.subscribe_templates["case_announced"]
    [message] = delivered(emulator, yes.openid, template.id)
    assert message.data == {"thing1": {"value": "789互助"}, "number2": {"value": "2"},
                            "amount3": {"value": "1.50元"}, "thing4": {"value": "本期互助案件已公布，请查看"}}
    assert message.page == template.page
    assert delivered(emulator, no.openid) == []  # no consent: WeChat was not even asked
    by_user = {r.user_id: r.status for r in rows(session, kind="case_announced")}
    assert by_user == {yes.id: "sent", no.id: "skipped_no_quota"}
    assert _quota(session, yes, "case_announced") == 0
    assert _drain(app, clock) == 0 and len(delivered(emulator, yes.openid, template.id)) == 1
    # The observing notices went nowhere: neither user consented to membership_status.
    observing = {r.membership_id: r.status for r in rows(session, kind="observing")}
    assert observing[m_yes.id] == "skipped_no_quota"
    assert set(observing.values()) == {"skipped_no_quota"} and len(observing) == 2


def test_each_message_spends_one_quota_and_a_second_needs_a_second_consent(app, session, services, emulator, clock):
    user = new_user(session, clock)
    member(session, services, clock, user.id)
    consent(session, services, emulator, user, "case_announced", count=3)
    assert _quota(session, user, "case_announced") == 3
    for run_id in (1, 2):
        record(session, "run.published", clock, plan_id=_plan_id(session), run_id=run_id, payload={"share_fen": 10})
    _drain(app, clock)
    assert _quota(session, user, "case_announced") == 1
    assert len(delivered(emulator, user.openid, services.subscribe_templates["case_announced"].id)) == 2


def test_wechat_without_quota_is_permanent_and_resets_ours(app, session, services, emulator, clock):
    user = new_user(session, clock)
    member(session, services, clock, user.id)
    # Our count says 2 but WeChat has none (e.g. the user consented on another device's request that failed).
    subscriptions.consent(session, services.subscribe_templates, user_id=user.id,
                          accepted=["case_announced", "yiqi-case-announced-dev"], now=clock.now())
    with emulator.state.lock:
        from wechat.emulator.state import MiniProgramUser

        emulator.state.users.setdefault(user.openid, MiniProgramUser(user.openid, "a2V5a2V5a2V5a2V5a2V5aw=="))
    record(session, "run.published", clock, plan_id=_plan_id(session), run_id=1, payload={"share_fen": 10})
    _drain(app, clock)
    [row] = rows(session, kind="case_announced")
    assert row.status == "skipped_no_quota" and "43101" in row.last_error and row.attempts == 1
    assert _quota(session, user, "case_announced") == 0
    _drain(app, clock)
    assert rows(session, kind="case_announced")[0].attempts == 1  # never retried


def test_bad_data_is_permanent_and_gives_the_quota_back(app, session, services, emulator, clock):
    user = new_user(session, clock)
    member(session, services, clock, user.id)
    consent(session, services, emulator, user, "case_announced")
    record(session, "run.published", clock, plan_id=_plan_id(session), run_id=1, payload={"share_fen": 10})
    _fault(emulator, errcode=47003)
    _drain(app, clock)
    [row] = rows(session, kind="case_announced")
    assert row.status == "failed" and "47003" in row.last_error
    assert _quota(session, user, "case_announced") == 1  # not delivered: the consent is still usable
    clock.advance(hours=5)
    assert _drain(app, clock) == 0


@pytest.mark.parametrize("fault", [{"errcode": 45009}, {"status": 503}])
def test_rate_limits_and_5xx_are_retried_with_backoff(app, session, services, emulator, clock, fault):
    user = new_user(session, clock)
    member(session, services, clock, user.id)
    consent(session, services, emulator, user, "case_announced")
    record(session, "run.published", clock, plan_id=_plan_id(session), run_id=1, payload={"share_fen": 10})
    _fault(emulator, times=2, **fault)
    _drain(app, clock)
    [row] = rows(session, kind="case_announced")
    assert row.status == "pending" and row.next_attempt_at == clock.now() + dt.timedelta(seconds=30)
    assert _drain(app, clock) == 0  # not due yet
    clock.advance(seconds=30)
    _drain(app, clock)
    [row] = rows(session, kind="case_announced")
    assert row.status == "pending" and row.next_attempt_at == clock.now() + dt.timedelta(seconds=120)
    clock.advance(seconds=120)
    _drain(app, clock)
    [row] = rows(session, kind="case_announced")
    assert (row.status, row.attempts) == ("sent", 3)
    assert _quota(session, user, "case_announced") == 0  # one quota for one message, retries included
    assert len(delivered(emulator, user.openid, services.subscribe_templates["case_announced"].id)) == 1


def test_retries_end_in_failed_after_the_last_attempt(app, session, services, emulator, clock):
    app.config["NOTIFICATION_MAX_ATTEMPTS"] = 2
    user = new_user(session, clock)
    member(session, services, clock, user.id)
    consent(session, services, emulator, user, "case_announced")
    record(session, "run.published", clock, plan_id=_plan_id(session), run_id=1, payload={"share_fen": 10})
    _fault(emulator, times=2, errcode=45009)
    _drain(app, clock)
    clock.advance(hours=1)
    _drain(app, clock)
    [row] = rows(session, kind="case_announced")
    assert (row.status, row.attempts) == ("failed", 2) and "45009" in row.last_error
    assert _quota(session, user, "case_announced") == 1


def test_timeouts_are_retried():
    from app.services.ports import WeChatRejected, WeChatUnavailable

    assert delivery.classify(WeChatUnavailable("read timed out", timed_out=True)) == "retry"
    assert delivery.classify(WeChatUnavailable("HTTP 502")) == "retry"
    assert delivery.classify(WeChatRejected(45009, "limit")) == "retry"
    assert delivery.classify(WeChatRejected(43101, "refuse")) == "no_quota"
    assert delivery.classify(WeChatRejected(47003, "bad")) == "failed"
    assert delivery.classify(ValueError("bug")) == "failed"


def test_a_stale_job_does_nothing_and_an_expired_lease_is_taken_again(app, session, services, emulator, clock):
    user = new_user(session, clock)
    member(session, services, clock, user.id)
    consent(session, services, emulator, user, "case_announced")
    record(session, "run.published", clock, plan_id=_plan_id(session), run_id=1, payload={"share_fen": 10})
    jobs_seen = []
    policy = jobs.policy_of(app)
    delivery.dispatch(session, lambda ids, token: jobs_seen.append((ids, token)), now=clock.now(), policy=policy)
    assert delivery.dispatch(session, lambda *a: jobs_seen.append(a), now=clock.now(), policy=policy) == 0
    clock.advance(seconds=policy.lease_seconds + 1)  # the job was lost (worker gone, Redis flushed)
    delivery.dispatch(session, lambda ids, token: jobs_seen.append((ids, token)), now=clock.now(), policy=policy)
    (old_ids, old_token), (new_ids, new_token) = jobs_seen
    assert old_ids == new_ids and old_token != new_token
    assert jobs.deliver(app, old_ids, old_token).claimed == 0  # the stale job takes nothing
    assert jobs.deliver(app, new_ids, new_token).claimed == 2
    assert len(delivered(emulator, user.openid, services.subscribe_templates["case_announced"].id)) == 1


def test_rendered_values_fit_wechat_limits(app, session, services, emulator, clock):
    user = new_user(session, clock)
    m = member(session, services, clock, user.id, prepay_fen=400)
    consent(session, services, emulator, user, "balance_low")
    consent(session, services, emulator, user, "claim_status")
    record(session, "memberships.protected", clock)  # nothing in that batch: no rows
    with atomic(session):
        session.execute(sa.update(Membership).where(Membership.id == m.id)
                        .values(state="suspended", state_changed_at=clock.now()))
    record(session, "run.executed", clock, plan_id=_plan_id(session), run_id=3)
    record(session, "claim.status_changed", clock, user_id=user.id, claim_id=42,
           payload={"from": "under_review", "to": "returned", "reason": "请补充出院小结和费用清单原件照片，谢谢配合"})
    _drain(app, clock)
    suspended = delivered(emulator, user.openid, services.subscribe_templates["balance_low"].id)
    assert [m.data["phrase2"]["value"] for m in suspended] == ["已暂停"]
    assert suspended[0].data["amount3"]["value"] == "4.00元"
    [claim] = delivered(emulator, user.openid, services.subscribe_templates["claim_status"].id)
    assert claim.data["character_string1"]["value"] == "HZ00000042"
    assert claim.data["phrase2"]["value"] == "待补充" and len(claim.data["thing3"]["value"]) == 20


def test_consent_refuses_unknown_templates(session, services, clock):
    user = new_user(session, clock)
    with pytest.raises(InvalidRequest):
        subscriptions.consent(session, services.subscribe_templates, user_id=user.id, accepted=["nope"],
                              now=clock.now())
    assert subscriptions.quotas_of(session, user.id) == {}


# --- each kind of event reaches the emulator as its own template ------------------------------------
# Each case makes the event happen for BOTH users (the real engine where there is one) and returns
# the template keywords its message must carry.


def _real_run(session, services, clock, *, execute: bool):
    """A real apportionment run of the plan over its members; the case belongs to a third member."""
    claimant = new_user(session, clock)
    claim_id = add_claim(session, member(session, services, clock, claimant.id).id, 30_000, clock.now())
    run = apportionment.prepare(session, "adult_789", clock.now())
    apportionment.publish(session, run.id, clock.now())
    if execute:
        run = apportionment.execute(session, run.id, clock.now())
    assert claim_id and run.payer_count == 3 and run.share_fen == 300  # 3 payers × the 300 fen cap
    return run


def _run_executed(session, services, clock, users):
    run = _real_run(session, services, clock, execute=True)
    paid = dict(run_postings(session, run.id))
    assert [paid.get(m.id) for _, m in users] == [-run.share_fen] * 2  # both users paid the share
    return {"amount2": "3.00元", "thing3": "本期分摊已从余额扣除"}


def _run_published(session, services, clock, users):
    _real_run(session, services, clock, execute=False)
    return {"number2": "1", "amount3": "3.00元"}


def _balance_low(session, services, clock, users):
    _real_run(session, services, clock, execute=True)  # 500 − 300 leaves 200, below one 300 fen share
    return {"phrase2": "余额不足", "amount3": "2.00元"}


def _observation_over(session, services, clock, users):
    clock.advance(days=181)
    assert memberships.advance(session, clock.now()).protected == 2
    return {"phrase2": "保障中", "thing3": "观察期已结束，保障已生效"}


def _aid_paid(session, services, clock, users):
    for user, m in users:
        claim_id = add_claim(session, m.id, 80_000, clock.now(), status="paid")
        record(session, "aid.paid", clock, claim_id=claim_id, user_id=user.id, plan_id=m.plan_id,
               membership_id=m.id, payload={"amount_fen": 80_000})
    return {"amount2": "800.00元"}


@pytest.mark.parametrize("happen, key", [
    (_run_executed, "share_deducted"),
    (_run_published, "case_announced"),
    (_balance_low, "balance_low"),
    (_observation_over, "observation_over"),
    (_aid_paid, "aid_paid"),
], ids=["run.executed", "run.published", "balance_low", "memberships.protected", "aid.paid"])
def test_each_event_reaches_only_consenting_users_once_spending_one_quota(app, session, services, emulator, clock,
                                                                         happen, key):
    yes, no = new_user(session, clock), new_user(session, clock)
    users = [(yes, member(session, services, clock, yes.id)), (no, member(session, services, clock, no.id))]
    consent(session, services, emulator, yes, key, count=2)
    template = services.subscribe_templates[key]

    def wechat_quota(user):
        with emulator.state.lock:
            return emulator.state.subscribe_quota[(user.openid, template.id)]

    _drain(app, clock)  # the joining notices (no consent for them): nothing reaches WeChat
    clock.advance(days=1)
    expected = happen(session, services, clock, users)
    _drain(app, clock)
    assert _drain(app, clock) == 0  # drained: a second pass finds nothing
    [message] = delivered(emulator, yes.openid, template.id)
    assert {k: message.data[k]["value"] for k in expected} == expected and message.page == template.page
    assert delivered(emulator, yes.openid) == [message]  # no other template went out to them
    assert delivered(emulator, no.openid) == []
    assert (wechat_quota(yes), _quota(session, yes, key)) == (1, 1)
    assert (wechat_quota(no), _quota(session, no, key)) == (0, None)
    by_user = {r.user_id: r.status for r in rows(session, template_key=key) if r.user_id in (yes.id, no.id)}
    assert by_user == {yes.id: "sent", no.id: "skipped_no_quota"}
