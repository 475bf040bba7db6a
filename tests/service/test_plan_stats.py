"""plan_stats (the public figures) equals a fresh aggregate of the books after any mix of operations."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from app.models import Claim, Membership, Plan, PlanStats
from app.services import apportionment, memberships, plan_stats
from app.services import plans as plan_service
from app.services.unit_of_work import atomic
from tests.support import add_claim, add_members, make_user

RUNS_PER_YEAR = 24
PLANS = ("adult_789", "children", "seniors")
STATES = ("pending", "observing", "protected", "suspended", "left")

operations = st.lists(st.one_of(
    st.tuples(st.just("join"), st.sampled_from(PLANS), st.lists(st.integers(0, 5_000), min_size=1, max_size=4),
              st.sampled_from(STATES)),
    st.tuples(st.just("top_up"), st.integers(0, 50), st.integers(1, 10_000)),
    st.tuples(st.just("change_state"), st.integers(0, 50), st.sampled_from(STATES)),
    st.tuples(st.just("pay_aid"), st.integers(0, 50), st.integers(1, 100_000)),
    st.tuples(st.just("run"), st.sampled_from(PLANS)),
    st.tuples(st.just("time_passes"), st.integers(1, 200)),
), min_size=1, max_size=8)


def fresh_aggregate(session, now) -> dict[int, dict]:
    """What the home page computed on every request before plan_stats: the oracle."""
    counts = plan_service.member_counts(session)
    held = plan_service.balances_held(session)
    aid = plan_service.aid_paid(session)
    annual = plan_service.annual_cost_estimates(session, now, RUNS_PER_YEAR)
    return {p.id: {**counts.get(p.id, {"members": 0, "observing": 0, "protected": 0}),
                   "balances_held_fen": held.get(p.id, 0), "aid_paid_fen": aid.get(p.id, 0),
                   "estimated_annual_fen": annual.get(p.id)}
            for p, _ in plan_service.list_plans(session)}


def _apply(session, clock, user_id, members: list[int], op, step: int) -> None:
    now = clock.now()
    kind = op[0]
    if kind == "join":
        members.extend(add_members(session, user_id, op[1], op[2], now, state=op[3]))
    elif kind == "time_passes":
        clock.advance(days=op[1])
    elif not members:
        return
    elif kind == "top_up":
        with atomic(session):
            memberships.credit(session, membership_id=members[op[1] % len(members)], amount_fen=op[2],
                               idempotency_key=f"stats-{step}-{clock.now().isoformat()}-{op[1]}", now=now)
    elif kind == "change_state":
        with atomic(session):
            session.execute(sa.update(Membership).where(Membership.id == members[op[1] % len(members)])
                            .values(state=op[2]))
    elif kind == "pay_aid":
        claimant = members[op[1] % len(members)]
        if session.execute(sa.select(Claim.id).where(Claim.membership_id == claimant)).first():
            return  # one claim per membership
        claim = add_claim(session, claimant, op[2], now)
        with atomic(session):
            session.execute(sa.update(Claim).where(Claim.id == claim).values(status="paid", collected_aid_fen=op[2]))
    elif kind == "run":
        payer = session.execute(sa.select(Membership.id).join(Plan, Plan.id == Membership.plan_id)
                                .where(Plan.code == op[1], Membership.state.in_(("observing", "protected")),
                                       ~sa.exists().where(Claim.membership_id == Membership.id))
                                .limit(1)).scalar()
        if payer is None:
            return
        add_claim(session, payer, 300, now)
        # A member who can pay any share joins first: every run op runs a run (no "no_payers" escape).
        members.extend(add_members(session, user_id, op[1], [10_000], now))
        run = apportionment.prepare(session, op[1], now)
        apportionment.publish(session, run.id, now)
        apportionment.execute(session, run.id, now)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_refreshed_stats_equal_a_fresh_aggregate(session, clock, ops):
    user_id = make_user(session, clock.now())
    members: list[int] = []
    for step, op in enumerate(ops):
        _apply(session, clock, user_id, members, op, step)
    now = clock.now()
    plan_stats.refresh(session, now, RUNS_PER_YEAR)
    stored = plan_stats.read(session, now, RUNS_PER_YEAR, max_age=dt.timedelta(minutes=1))
    assert stored == fresh_aggregate(session, now)


def test_read_refreshes_only_missing_or_stale_figures(session, clock):
    user_id = make_user(session, clock.now())
    first = plan_stats.read(session, clock.now(), RUNS_PER_YEAR, max_age=dt.timedelta(minutes=3))  # none yet
    assert all(f["members"] == 0 for f in first.values()) and len(first) == 6
    add_members(session, user_id, "adult_789", [500], clock.now())
    clock.advance(minutes=2)
    plan_id = plan_service.get_plan(session, "adult_789")[0].id
    assert plan_stats.read(session, clock.now(), RUNS_PER_YEAR, max_age=dt.timedelta(minutes=3))[plan_id] == first[plan_id]
    clock.advance(minutes=1)  # now 3 minutes old: stale, refreshed by the read
    fresh = plan_stats.read(session, clock.now(), RUNS_PER_YEAR, max_age=dt.timedelta(minutes=3))[plan_id]
    assert fresh["members"] == 1 and fresh["balances_held_fen"] == 500
    assert session.get(PlanStats, plan_id).refreshed_at == clock.now()


def test_stale_figures_are_served_when_another_request_is_refreshing(session, clock):
    first = plan_stats.read(session, clock.now(), RUNS_PER_YEAR, max_age=dt.timedelta(minutes=3),
                            may_refresh=lambda: False)  # missing: refreshed whatever may_refresh says
    add_members(session, make_user(session, clock.now()), "adult_789", [500], clock.now())
    clock.advance(minutes=5)
    plan_id = plan_service.get_plan(session, "adult_789")[0].id
    stale = plan_stats.read(session, clock.now(), RUNS_PER_YEAR, max_age=dt.timedelta(minutes=3),
                            may_refresh=lambda: False)
    assert stale[plan_id] == first[plan_id]
    fresh = plan_stats.read(session, clock.now(), RUNS_PER_YEAR, max_age=dt.timedelta(minutes=3),
                            may_refresh=lambda: True)
    assert fresh[plan_id]["members"] == 1
