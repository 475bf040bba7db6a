import datetime as dt

import pytest
import sqlalchemy as sa

from app.models import Membership, MembershipSecret
from app.services import memberships
from app.services.errors import Conflict, InvalidRequest
from app.services.memberships import JoinRequest
from app.services.unit_of_work import atomic
from app.services.users import new_invite_code
from app.models import User
from tests.support import join_consented, make_id_number, no_answers, years_ago


@pytest.fixture
def user_id(session, clock):
    with atomic(session):
        user = User(openid="o-test-payer", invite_code=new_invite_code(), created_at=clock.now(), last_login_at=clock.now())
        session.add(user)
    return user.id


def _join(session, services, user_id, clock, plan, birth, sex="M", relation="self", answers=None, name="张三"):
    request = JoinRequest(plan_code=plan, person_name=name, id_number=make_id_number(birth, sex),
                          relation=relation, answers=answers if answers is not None else no_answers())
    return join_consented(session, services.pii, user_id=user_id, request=request, now=clock.now())


def today(clock):
    return (clock.now() + dt.timedelta(hours=8)).date()


def test_sixteen_year_old_joins_children_but_not_adult(session, services, user_id, clock):
    birth = years_ago(today(clock), 16)
    m = _join(session, services, user_id, clock, "children", birth, relation="child")
    assert m.state == "pending" and m.person_name_masked == "张*"
    with pytest.raises(InvalidRequest) as err:
        _join(session, services, user_id, clock, "adult_789", birth, relation="child")
    assert err.value.code == "not_eligible" and "16周岁" in err.value.message


def test_age_bounds_are_inclusive_and_babies_need_28_days(session, services, user_id, clock):
    _join(session, services, user_id, clock, "adult_789", years_ago(today(clock), 55, days=300))
    with pytest.raises(InvalidRequest):
        _join(session, services, user_id, clock, "adult_789", years_ago(today(clock), 56))
    with pytest.raises(InvalidRequest):
        _join(session, services, user_id, clock, "children", today(clock) - dt.timedelta(days=27), relation="child")
    _join(session, services, user_id, clock, "children", today(clock) - dt.timedelta(days=28), relation="child")


def test_groups_with_required_statements(session, services, user_id, clock):
    mother = years_ago(today(clock), 30)
    with pytest.raises(InvalidRequest):
        _join(session, services, user_id, clock, "mother_baby", mother, sex="F", relation="spouse")
    m = _join(session, services, user_id, clock, "mother_baby", mother, sex="F", relation="spouse",
              answers={**no_answers(), "is_expectant_mother": True})
    assert m.eligibility_group.startswith("20至45")
    with pytest.raises(InvalidRequest):  # a father is not an expectant mother
        _join(session, services, user_id, clock, "mother_baby", mother, sex="M", relation="self",
              answers={**no_answers(), "is_expectant_mother": True})
    child = years_ago(today(clock), 8)
    with pytest.raises(InvalidRequest):
        _join(session, services, user_id, clock, "left_behind_children", child, relation="child")
    _join(session, services, user_id, clock, "left_behind_children", child, relation="child",
          answers={**no_answers(), "is_left_behind": True})


def test_declaration_yes_refuses_and_names_the_question(session, services, user_id, clock):
    with pytest.raises(InvalidRequest) as err:
        _join(session, services, user_id, clock, "adult_789", years_ago(today(clock), 30),
              answers=no_answers(yes=("in_hospital_or_awaiting_diagnosis",)))
    assert err.value.code == "health_declaration_refused"
    assert err.value.details["question"] == "in_hospital_or_awaiting_diagnosis"
    with pytest.raises(InvalidRequest) as err:
        _join(session, services, user_id, clock, "adult_789", years_ago(today(clock), 30), answers={})
    assert err.value.code == "declaration_incomplete"


def test_one_active_membership_per_person_per_plan(session, services, user_id, clock):
    id_number = make_id_number(years_ago(today(clock), 30))
    request = JoinRequest("adult_789", "李四", id_number, "self", no_answers())
    first = join_consented(session, services.pii, user_id=user_id, request=request, now=clock.now())
    with pytest.raises(Conflict):
        join_consented(session, services.pii, user_id=user_id, request=request, now=clock.now())
    # Once the first has ended, the person may join again.
    with atomic(session):
        session.execute(sa.update(Membership).where(Membership.id == first.id).values(state="left"))
    join_consented(session, services.pii, user_id=user_id, request=request, now=clock.now())


def test_personal_data_is_encrypted_at_rest(session, services, user_id, clock):
    id_number = make_id_number(years_ago(today(clock), 30))
    join_consented(session, services.pii, user_id=user_id,
                     request=JoinRequest("adult_789", "王小明", id_number, "self", no_answers()), now=clock.now())
    dump = " ".join(str(v) for row in session.execute(sa.text("SELECT * FROM memberships")).all() for v in row)
    assert id_number not in dump and "王小明" not in dump


def test_credit_starts_observation_and_advance_protects(session, services, user_id, clock):
    m = _join(session, services, user_id, clock, "adult_789", years_ago(today(clock), 30))
    with atomic(session):
        memberships.credit(session, membership_id=m.id, amount_fen=200, idempotency_key="c1", now=clock.now())
    session.refresh(m)
    assert m.state == "pending"  # below the 3-yuan minimum prepay
    with atomic(session):
        memberships.credit(session, membership_id=m.id, amount_fen=100, idempotency_key="c2", now=clock.now())
    session.refresh(m)
    assert m.state == "observing"
    assert m.observation_ends_at == clock.now() + dt.timedelta(days=180)
    assert memberships.advance(session, clock.now() + dt.timedelta(days=179)).protected == 0
    assert memberships.advance(session, m.observation_ends_at).protected == 1
    assert memberships.advance(session, m.observation_ends_at).protected == 0  # safe to run twice
    session.refresh(m)
    assert m.state == "protected"
    kinds = session.execute(sa.text("SELECT kind, membership_id FROM domain_events ORDER BY id")).all()
    assert [tuple(k) for k in kinds] == [("membership.observing", m.id), ("memberships.protected", None)]


def test_credit_replay_is_idempotent(session, services, user_id, clock):
    m = _join(session, services, user_id, clock, "adult_789", years_ago(today(clock), 30))
    for _ in range(3):
        with atomic(session):
            memberships.credit(session, membership_id=m.id, amount_fen=300, idempotency_key="wx-tx-1", now=clock.now())
    view = memberships.get_for_user(session, user_id, m.id)
    assert view.balance_fen == 300


def test_suspended_member_topping_up_in_grace_resumes(session, services, user_id, clock):
    m = _join(session, services, user_id, clock, "adult_789", years_ago(today(clock), 30))
    with atomic(session):
        memberships.credit(session, membership_id=m.id, amount_fen=300, idempotency_key="c1", now=clock.now())
        session.execute(sa.update(Membership).where(Membership.id == m.id).values(
            state="suspended", state_before_suspension="observing", suspended_at=clock.now(),
            grace_ends_at=clock.now() + dt.timedelta(days=30)))
    with atomic(session):
        memberships.credit(session, membership_id=m.id, amount_fen=300, idempotency_key="c2",
                           now=clock.now() + dt.timedelta(days=3))
    session.refresh(m)
    assert m.state == "observing" and m.grace_ends_at is None


def test_grace_over_lapses(session, services, user_id, clock):
    m = _join(session, services, user_id, clock, "adult_789", years_ago(today(clock), 30))
    with atomic(session):
        session.execute(sa.update(Membership).where(Membership.id == m.id).values(
            state="suspended", state_before_suspension="protected", suspended_at=clock.now(),
            grace_ends_at=clock.now() + dt.timedelta(days=30)))
    assert memberships.advance(session, clock.now() + dt.timedelta(days=30)).lapsed == 1
    session.refresh(m)
    assert m.state == "lapsed"


def test_a_new_membership_has_its_transparency_secret_from_the_start(session, services, user_id, clock):
    """join creates the membership's secret in its own transaction: a run's settlement only reads it."""
    first = _join(session, services, user_id, clock, "adult_789", years_ago(today(clock), 30))
    second = _join(session, services, user_id, clock, "adult_789", years_ago(today(clock), 31), name="李四")
    secrets_ = {m: bytes(s) for m, s in session.execute(sa.select(MembershipSecret.membership_id, MembershipSecret.secret))}
    assert set(secrets_) == {first.id, second.id}
    assert all(len(s) == 32 for s in secrets_.values()) and secrets_[first.id] != secrets_[second.id]

