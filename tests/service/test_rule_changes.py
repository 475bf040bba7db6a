"""Rule changes with the members' consent (docs/rule-changes.md). SQLite and PostgreSQL."""
import datetime as dt

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from app.models import Membership, Notification, OperatorAuditEntry, Plan, RuleChangeAnswer, RuleChangeProposal
from app.services import apportionment, refunds, rule_changes
from app.services.audit import audit_ledger
from app.services.errors import Conflict, NotFound
from app.services.plans import get_plan
from tests.support import (RecordingPay, add_claim, add_members, add_paid_orders, balances, make_user,
                                         reset_database, states)
from tests.support.rule_changes import changed_catalogue, propose

PLAN = "adult_789"


def _audit_actions(session, proposal_id):
    return [a for (a,) in session.execute(sa.select(OperatorAuditEntry.action).where(
        OperatorAuditEntry.target_type == "rule_change", OperatorAuditEntry.target_id == proposal_id)
        .order_by(OperatorAuditEntry.id)).all()]


def _versions(session, ids):
    return dict(session.execute(sa.select(Membership.id, Membership.plan_version_id)
                                .where(Membership.id.in_(list(ids)))).all())


def _proposal(session, plan_code=PLAN) -> RuleChangeProposal:
    plan, _ = get_plan(session, plan_code)
    return session.execute(sa.select(RuleChangeProposal).where(RuleChangeProposal.plan_id == plan.id)
                           .order_by(RuleChangeProposal.id.desc()).limit(1)).scalar_one()


def _answer(session, uid, membership_id, proposal, answer, now):
    return rule_changes.answer(session, user_id=uid, membership_id=membership_id, proposal_id=proposal.id,
                               answer=answer, now=now)


def test_a_changed_plan_becomes_a_proposal_not_a_silent_version(app, session, clock, tmp_path):
    now = clock.now()
    uid, other = make_user(session, now), make_user(session, now)
    ids = add_members(session, uid, PLAN, [1_000] * 3, now) + add_members(session, other, PLAN, [1_000], now)
    _, before = get_plan(session, PLAN)
    result = propose(session, app, tmp_path, now, share_cap_fen=200, observation_days=90)
    assert result.new_versions == [] and len(result.proposals) == 1 and "adult_789" in result.proposals[0]
    plan, current = get_plan(session, PLAN)
    assert current.id == before.id  # nobody joins under the proposed version
    assert set(_versions(session, ids).values()) == {before.id}
    proposal = _proposal(session)
    assert proposal.status == "open" and proposal.from_version_id == before.id
    assert proposal.window_closes_at == now + dt.timedelta(days=14)
    assert proposal.notice_ends_on == proposal.effective_on - dt.timedelta(days=1)
    fields = {d["field"]: d for d in proposal.differences}
    assert set(fields) == {"share_cap_fen", "observation_days"}
    assert fields["share_cap_fen"]["text"] == "每案分摊上限由“每人每个案例最多分摊3元”改为“每人每个案例最多分摊2元”"
    assert fields["observation_days"]["before_text"] == "180天" and fields["observation_days"]["after_text"] == "90天"
    assert "三分之二" in proposal.summary_text and "10%" in proposal.summary_text
    # Pushed: one subscribe message per payer with an active membership of the plan.
    pushed = session.execute(sa.select(Notification.user_id).where(Notification.kind == "rule_change")).scalars().all()
    assert sorted(pushed) == sorted([uid, other])
    assert _audit_actions(session, proposal.id) == ["rule_change.proposed"]
    # Loading the same file again proposes nothing new; another change waits for this one.
    again = propose(session, app, tmp_path, now, share_cap_fen=200, observation_days=90)
    assert again.proposals == [] and "已在征求意见" in again.waiting[0]
    other_change = propose(session, app, tmp_path, now, share_cap_fen=250)
    assert other_change.proposals == [] and "尚未结束" in other_change.waiting[0]
    assert session.execute(sa.select(sa.func.count()).select_from(RuleChangeProposal)).scalar_one() == 1


def test_a_plan_without_members_adopts_the_change_at_once(app, session, clock, tmp_path):
    now = clock.now()
    _, before = get_plan(session, "seniors")
    result = propose(session, app, tmp_path, now, "seniors", share_cap_fen=200)
    _, after = get_plan(session, "seniors")
    assert result.new_versions == ["seniors"] and result.proposals == []
    assert after.version == before.version + 1 and after.rules["share_cap_fen"] == 200
    assert "rule_change.adopted_without_members" in session.execute(sa.select(OperatorAuditEntry.action)).scalars().all()


def _ten_members(session, now):
    uid = make_user(session, now)
    return uid, add_members(session, uid, PLAN, [1_000] * 10, now)


def test_a_proposal_passes_by_the_quorum_and_comes_into_force_on_its_date(app, session, clock, tmp_path):
    now = clock.now()
    uid, ids = _ten_members(session, now)
    left = add_members(session, uid, PLAN, [0], now, state="left")[0]
    old = _versions(session, [left])[left]
    propose(session, app, tmp_path, now, share_cap_fen=200)
    proposal = _proposal(session)
    # Exactly two thirds of those who answered agree; 3 of 10 answered (≥ 10%).
    for membership_id, answer in zip(ids, ("agree", "agree", "disagree")):
        _answer(session, uid, membership_id, proposal, answer, now + dt.timedelta(days=1))
    tally = rule_changes.tally_of(session, proposal)
    assert tally.out() == {"agree": 2, "disagree": 1, "answered": 3, "eligible": 10, "turnout_percent": 30}
    with pytest.raises(Conflict) as err:
        rule_changes.close(session, proposal.id, now + dt.timedelta(days=13))
    assert err.value.code == "window_not_over"
    closes = proposal.window_closes_at
    result = rule_changes.advance(session, closes)
    assert result.closed == [proposal.id] and result.in_force == []
    session.refresh(proposal)
    assert proposal.status == "passed" and (proposal.agree_count, proposal.eligible_count) == (2, 10)
    assert proposal.outcome_text.startswith("已通过")
    # Passed but not yet effective: nobody's version has changed.
    assert set(_versions(session, ids).values()) == {old}
    assert rule_changes.advance(session, proposal.effective_at - dt.timedelta(seconds=1)).in_force == []
    result = rule_changes.advance(session, proposal.effective_at)
    assert result.in_force == [proposal.id]
    session.refresh(proposal)
    plan, current = get_plan(session, PLAN)
    assert proposal.status == "in_force" and proposal.moved_count == 10
    assert current.id == proposal.to_version_id and current.rules["share_cap_fen"] == 200
    assert set(_versions(session, ids).values()) == {proposal.to_version_id}
    assert _versions(session, [left]) == {left: old}  # an ended membership keeps its version
    assert _audit_actions(session, proposal.id) == ["rule_change.proposed", "rule_change.passed",
                                                    "rule_change.in_force"]
    assert rule_changes.advance(session, proposal.effective_at + dt.timedelta(days=1)).in_force == []


@pytest.mark.parametrize("answers, reason", [
    (("agree", "disagree"), "同意者未达"),  # 1 of 2 agree: below two thirds
    (("agree",), "答复不足"),  # 1 of 30 answered: below 10%
])
def test_a_proposal_fails_by_the_quorum_and_nothing_changes(app, session, clock, tmp_path, answers, reason):
    now = clock.now()
    uid = make_user(session, now)
    ids = add_members(session, uid, PLAN, [1_000] * (10 if len(answers) == 2 else 30), now)
    _, before = get_plan(session, PLAN)
    propose(session, app, tmp_path, now, share_cap_fen=200)
    proposal = _proposal(session)
    for membership_id, answer in zip(ids, answers):
        _answer(session, uid, membership_id, proposal, answer, now)
    rule_changes.advance(session, proposal.window_closes_at)
    session.refresh(proposal)
    assert proposal.status == "failed" and reason in proposal.outcome_text and proposal.notice_ends_on is None
    rule_changes.advance(session, proposal.effective_at + dt.timedelta(days=1))
    _, current = get_plan(session, PLAN)
    assert current.id == before.id and set(_versions(session, ids).values()) == {before.id}
    assert _audit_actions(session, proposal.id) == ["rule_change.proposed", "rule_change.failed"]
    # The same rejected change is not proposed again by the next load.
    again = propose(session, app, tmp_path, proposal.effective_at, share_cap_fen=200)
    assert again.proposals == [] and "否决" in again.waiting[0]


def test_the_quorum_rule_is_exact_at_its_edges():
    q = rule_changes.Quorum(2, 3, 10)
    assert q.passes(agree=2, answered=3, eligible=30)  # 2/3 agree, exactly 10% answered
    assert not q.passes(agree=2, answered=3, eligible=31)  # 9.7% answered
    assert not q.passes(agree=3, answered=5, eligible=10)  # 60% agree
    assert not q.passes(agree=0, answered=0, eligible=0)  # nobody answered
    assert rule_changes.Quorum(1, 2, 0).passes(agree=1, answered=2, eligible=100)
    with pytest.raises(Exception):
        rule_changes.Quorum(4, 3, 10)


def test_members_answer_once_by_the_payer_within_the_window(app, session, clock, tmp_path):
    now = clock.now()
    uid, stranger = make_user(session, now), make_user(session, now)
    ids = add_members(session, uid, PLAN, [1_000] * 3, now)
    ended = add_members(session, uid, PLAN, [0], now, state="lapsed")[0]
    elsewhere = add_members(session, uid, "children", [1_000], now)[0]
    propose(session, app, tmp_path, now, share_cap_fen=200)
    proposal = _proposal(session)
    first = _answer(session, uid, ids[0], proposal, "agree", now)
    assert first.tally.agree == 1 and first.answer == "agree"
    with pytest.raises(Conflict) as err:
        _answer(session, uid, ids[0], proposal, "disagree", now)
    assert err.value.code == "already_answered"
    with pytest.raises(NotFound) as err:  # another user's membership: as if it did not exist
        _answer(session, stranger, ids[1], proposal, "agree", now)
    assert err.value.code == "not_found"
    with pytest.raises(NotFound):  # a membership of another plan
        _answer(session, uid, elsewhere, proposal, "agree", now)
    with pytest.raises(Conflict) as err:
        _answer(session, uid, ended, proposal, "agree", now)
    assert err.value.code == "membership_ended"
    with pytest.raises(Conflict) as err:
        _answer(session, uid, ids[1], proposal, "agree", proposal.window_closes_at)
    assert err.value.code == "proposal_closed"
    rule_changes.advance(session, proposal.window_closes_at)
    with pytest.raises(Conflict) as err:
        _answer(session, uid, ids[2], proposal, "agree", proposal.window_closes_at - dt.timedelta(seconds=1))
    assert err.value.code == "proposal_closed"  # decided: no late answer even with an earlier clock
    assert session.execute(sa.select(sa.func.count()).select_from(RuleChangeAnswer)).scalar_one() == 1


def _pass(session, app, tmp_path, now, uid, ids, **changes):
    propose(session, app, tmp_path, now, **changes)
    proposal = _proposal(session)
    for membership_id in ids:
        _answer(session, uid, membership_id, proposal, "agree", now)
    rule_changes.advance(session, proposal.window_closes_at)
    session.refresh(proposal)
    assert proposal.status == "passed"
    return proposal


def _passed_cap_change_with_a_case(session, app, clock, tmp_path):
    """Ten members, a 6,000 case ready, a passed change of the cap 3 → 2 yuan; an instant in its notice period."""
    now = clock.now()
    uid, ids = _ten_members(session, now)
    add_claim(session, ids[0], 6_000, now - dt.timedelta(days=1))
    proposal = _pass(session, app, tmp_path, now, uid, ids, share_cap_fen=200)
    return ids, proposal, proposal.window_closes_at + dt.timedelta(hours=1)


def test_runs_before_and_after_the_effective_date_use_the_rules_in_force(app, session, clock, tmp_path):
    ids, proposal, during = _passed_cap_change_with_a_case(session, app, clock, tmp_path)
    # In the notice period: the old rules (cap 3 yuan: 10 payers × 300 = 3,000 of the 6,000).
    run = apportionment.prepare(session, PLAN, during)
    assert (run.share_cap_fen, run.limited_aid_fen, run.plan_version_id) == (300, 3_000, proposal.from_version_id)
    apportionment.cancel(session, run.id, during)
    rule_changes.advance(session, proposal.effective_at)
    later = proposal.effective_at + dt.timedelta(hours=2)
    # A run whose cut-off falls before the effective date still uses the old rules, though every
    # membership now holds the new version; one cut off after it uses the new ones.
    run = apportionment.prepare(session, PLAN, later, cut_off=proposal.effective_at - dt.timedelta(hours=1))
    assert (run.share_cap_fen, run.plan_version_id) == (300, proposal.from_version_id)
    apportionment.cancel(session, run.id, later)
    run = apportionment.prepare(session, PLAN, later)
    assert (run.share_cap_fen, run.limited_aid_fen, run.plan_version_id) == (200, 2_000, proposal.to_version_id)


def test_a_member_who_disagreed_leaves_with_a_full_refund(app, session, clock, tmp_path):
    now = clock.now()
    uid, ids = _ten_members(session, now)
    add_paid_orders(session, ids, now)
    propose(session, app, tmp_path, now, share_cap_fen=200)
    proposal = _proposal(session)
    for membership_id in ids[:-1]:
        _answer(session, uid, membership_id, proposal, "agree", now)
    dissenter = ids[-1]
    _answer(session, uid, dissenter, proposal, "disagree", now)
    rule_changes.advance(session, proposal.window_closes_at)
    in_notice = proposal.window_closes_at + dt.timedelta(days=2)
    mine = {p["id"]: p for p in rule_changes.for_membership(session, user_id=uid, membership_id=dissenter,
                                                            now=in_notice)}
    assert mine[proposal.id]["my_answer"] == "disagree" and mine[proposal.id]["can_leave_with_full_refund"]
    agreed = rule_changes.for_membership(session, user_id=uid, membership_id=ids[0], now=in_notice)
    assert not agreed[0]["can_leave_with_full_refund"] and not agreed[0]["can_answer"]
    pay = RecordingPay()
    result = refunds.leave(session, pay, user_id=uid, membership_id=dissenter, now=in_notice)
    assert (result.refunded_fen, result.withheld_fen) == (1_000, 0) and [f for _, f in pay.refunds] == [1_000]
    assert balances(session, [dissenter]) == {dissenter: 0} and states(session, [dissenter]) == {dissenter: "left"}
    assert audit_ledger(session).ok
    # Having left, it is not moved when the change comes into force; the others are.
    rule_changes.advance(session, proposal.effective_at)
    versions = _versions(session, ids)
    assert versions[dissenter] == proposal.from_version_id
    assert {versions[m] for m in ids[:-1]} == {proposal.to_version_id}


def test_a_dissenter_counted_in_a_prepared_run_owes_only_that_share(app, session, clock, tmp_path):
    """The explicit rule: leaving in the notice period withholds nothing beyond a share already owed."""
    now = clock.now()
    uid, ids = _ten_members(session, now)
    add_paid_orders(session, ids, now)
    add_claim(session, ids[0], 3_000, now - dt.timedelta(days=1))
    proposal = _pass(session, app, tmp_path, now, uid, ids[:5], share_cap_fen=200)
    during = proposal.window_closes_at + dt.timedelta(hours=1)
    run = apportionment.prepare(session, PLAN, during)
    result = refunds.leave(session, RecordingPay(), user_id=uid, membership_id=ids[7], now=during)
    assert (result.withheld_fen, result.refunded_fen) == (run.share_fen, 1_000 - run.share_fen)


def test_a_straggler_joining_under_the_old_version_is_moved_too(app, session, clock, tmp_path):
    now = clock.now()
    uid, ids = _ten_members(session, now)
    proposal = _pass(session, app, tmp_path, now, uid, ids, share_cap_fen=200)
    rule_changes.advance(session, proposal.effective_at)
    # A join that read the old current version just before the switch commits after it.
    late = add_members(session, uid, PLAN, [500], now, version_id=proposal.from_version_id)[0]
    result = rule_changes.advance(session, proposal.effective_at + dt.timedelta(minutes=10))
    assert result.stragglers == 1 and _versions(session, [late]) == {late: proposal.to_version_id}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_nobodys_version_changes_without_a_passed_proposal(app, session, clock, tmp_path, data):
    """Random answers, closings and clock moves: every change of a membership's version is the move
    of a proposal that passed and came into force, from its old version to its new one."""
    reset_database(app, session, clock)
    now = clock.now()
    uid = make_user(session, now)
    ids = add_members(session, uid, PLAN, [1_000] * data.draw(st.integers(3, 8), label="members"), now)
    versions = _versions(session, ids)
    for step in range(data.draw(st.integers(1, 3), label="changes")):
        cap = 200 + step
        propose(session, app, tmp_path, now, share_cap_fen=cap,
                quorum=rule_changes.Quorum(2, 3, data.draw(st.sampled_from([0, 10, 50]), label="turnout")))
        proposal = _proposal(session)
        for membership_id in ids:
            choice = data.draw(st.sampled_from(["agree", "disagree", None]), label="answer")
            if choice:
                _answer(session, uid, membership_id, proposal, choice, now)
        for moment in data.draw(st.lists(st.sampled_from(["before", "close", "effective"]), max_size=4), label="ticks"):
            at = {"before": now, "close": proposal.window_closes_at, "effective": proposal.effective_at}[moment]
            rule_changes.advance(session, max(now, at))
            after = _versions(session, ids)
            in_force = {(p.from_version_id, p.to_version_id) for p in session.execute(
                sa.select(RuleChangeProposal).where(RuleChangeProposal.status == "in_force")).scalars()}
            for membership_id, version in after.items():
                if version != versions[membership_id]:
                    assert (versions[membership_id], version) in in_force
            versions = after
        rule_changes.advance(session, proposal.effective_at)  # settle before the next change
        now = max(now, proposal.effective_at)
        session.refresh(proposal)
        expected = proposal.to_version_id if proposal.status == "in_force" else proposal.from_version_id
        assert set(_versions(session, ids).values()) == {expected}
        assert session.get(Plan, proposal.plan_id).current_version_id == expected
        versions = _versions(session, ids)


def test_the_catalogue_helper_changes_one_plan_only(app, tmp_path):
    path = changed_catalogue(app.config["PLANS_FILE"], tmp_path, "seniors", share_cap_fen=100)
    text = path.read_text(encoding="utf-8")
    assert text.count("share_cap_fen = 100") == 1 and text.count("share_cap_fen = 300") == 5


def test_a_run_open_across_the_effective_date_executes_on_its_frozen_rules(app, session, clock, tmp_path):
    ids, proposal, during = _passed_cap_change_with_a_case(session, app, clock, tmp_path)
    run = apportionment.prepare(session, PLAN, during)
    apportionment.publish(session, run.id, during)
    assert rule_changes.advance(session, proposal.effective_at).in_force == [proposal.id]
    done = apportionment.execute(session, run.id, proposal.effective_at + dt.timedelta(hours=1), grace_days=30)
    assert done.status == "executed" and (done.share_cap_fen, done.debited_fen) == (300, 3_000)
    assert set(_versions(session, ids).values()) == {proposal.to_version_id} and audit_ledger(session).ok


@pytest.mark.parametrize("passed_first", [False, True])
def test_a_plan_that_winds_down_withdraws_its_pending_proposal_and_opens_none(app, session, clock, tmp_path,
                                                                               passed_first):
    from app.services import wind_down
    from tests.support import make_operator

    now = clock.now()
    uid, ids = _ten_members(session, now)
    old = set(_versions(session, ids).values())
    propose(session, app, tmp_path, now, share_cap_fen=200)
    proposal = _proposal(session)
    _answer(session, uid, ids[0], proposal, "agree", now + dt.timedelta(days=1))
    if passed_first:  # passed, waiting for its effective date, when the wind-down comes
        for membership_id in ids[1:3]:
            _answer(session, uid, membership_id, proposal, "agree", now + dt.timedelta(days=1))
        rule_changes.advance(session, proposal.window_closes_at)
        session.refresh(proposal)
        assert proposal.status == "passed"
    moment = proposal.window_closes_at + dt.timedelta(hours=1) if passed_first else now + dt.timedelta(days=2)
    proposer, finance = make_operator("wd_rev", "reviewer", now=now), make_operator("wd_fin", "finance", now=now)
    closing = (moment + dt.timedelta(days=30)).date()
    wind_down.propose(session, proposer, PLAN, closing, moment)
    assert _proposal(session).status == ("passed" if passed_first else "open")  # a proposal alone changes nothing
    wind_down.confirm(session, finance, PLAN, moment)
    session.refresh(proposal)
    assert proposal.status == "withdrawn" and proposal.notice_ends_on is None
    assert "停止运行" in proposal.outcome_text
    assert proposal.agree_count == (3 if passed_first else 1)
    assert _audit_actions(session, proposal.id)[-1] == "rule_change.withdrawn"
    # Answering it is refused; its date passing moves nobody; the catalogue opens no new proposal.
    with pytest.raises(Conflict) as err:
        _answer(session, uid, ids[5], proposal, "agree", moment)
    assert err.value.code == "proposal_closed"
    assert rule_changes.advance(session, proposal.effective_at + dt.timedelta(days=1)).in_force == []
    assert set(_versions(session, ids).values()) == old
    again = propose(session, app, tmp_path, moment, share_cap_fen=250)
    assert again.proposals == [] and again.new_versions == [] and "停止运行" in again.waiting[0]
    assert rule_changes.pending_proposal(session, get_plan(session, PLAN)[0].id) is None
    assert not rule_changes.may_leave_with_full_refund(proposal, "disagree", "protected", moment)
