"""Database builders, below the API: users, members (one `member()` through the real join, and
`add_members` for many members with chosen balances in a state), claims whose publicity is over, rule
versions, money (top-ups as payments settles them, seeded surplus, a leave and its refund, aid paid),
operators, and domain events. Money always goes through the ledger."""
from __future__ import annotations

import datetime as dt
import itertools
import uuid

import sqlalchemy as sa

from app.models import Claim, Membership, PaymentOrder, PaymentRefund, PlanVersion, User
from app.services import events, ledger, membership_secrets, memberships, operators, refund_orders, refunds
from app.services.memberships import JoinRequest
from app.services.plans import get_plan
from app.services.unit_of_work import atomic
from app.services.users import new_invite_code
from tests.support.consent import join_consented
from tests.support.people import make_id_number, no_answers, region_code, years_ago

PASSWORD = "correct horse battery staple"  # every test operator's
_n = itertools.count(1)


# --- users and members -------------------------------------------------------------------------
def new_user(session, clock, openid: str | None = None) -> User:
    with atomic(session):
        user = User(openid=openid or f"o-{uuid.uuid4().hex[:12]}", invite_code=new_invite_code(),
                    created_at=clock.now(), last_login_at=clock.now())
        session.add(user)
    return user


def make_user(session, now: dt.datetime) -> int:
    """A user's id (for `add_members`, which needs only an owner)."""
    with atomic(session):
        user = User(openid=f"o-ap-{next(_n)}", invite_code=new_invite_code(), created_at=now, last_login_at=now)
        session.add(user)
        session.flush()
        return user.id


def member(session, services, clock, user_id: int, plan: str = "adult_789", prepay_fen: int | None = 500,
           age: int = 30):
    """A membership through the real join (consents given); with a prepay it is observing (which
    records membership.observing)."""
    # A distinct birthday and region per call: make_id_number's serial gives two calls in a row the same
    # number, and a clock moved by a day between calls can give two of them the same birthday.
    n = next(_n)
    birth = years_ago(clock.now().date(), age, days=n % 300)
    request = JoinRequest(plan, "王五", make_id_number(birth, region=region_code(n)), "self", no_answers())
    m = join_consented(session, services.pii, user_id=user_id, request=request, now=clock.now())
    if prepay_fen:
        with atomic(session):
            memberships.credit(session, membership_id=m.id, amount_fen=prepay_fen,
                               idempotency_key=f"prepay-{next(_n)}-{uuid.uuid4().hex}", now=clock.now())
    return m


def add_members(session, user_id: int, plan_code: str, balances: list[int], now: dt.datetime,
                state: str = "protected", observation_started: dt.datetime | None = None,
                version_id: int | None = None) -> list[int]:
    """Memberships in `state` holding exactly `balances` (fen), credited through the ledger,
    under the plan's current rule version unless `version_id` says otherwise."""
    started = observation_started or now - dt.timedelta(days=200)
    ids = []
    with atomic(session):
        plan, version = get_plan(session, plan_code)
        for balance in balances:
            k = next(_n)
            m = Membership(
                user_id=user_id, plan_id=plan.id, plan_version_id=version_id or version.id, relation="self",
                person_name_encrypted="x", person_name_masked="王*", person_id_encrypted="x",
                person_id_hash=f"h-{k}", person_id_masked="1101**********001X", birth_date=dt.date(1990, 5, 1),
                sex="M", eligibility_group="t", declaration={}, state="pending", joined_at=started,
                state_changed_at=started, sponsor_token=f"tok-{k}",
            )
            session.add(m)
            session.flush()
            ledger.ensure_account(session, code=ledger.member_account_code(m.id), kind="member", now=now,
                                  plan_id=plan.id, membership_id=m.id)
            membership_secrets.create_secret(session, m.id)  # as join does
            if balance:
                memberships.credit(session, membership_id=m.id, amount_fen=balance, idempotency_key=f"seed-{k}",
                                   now=now)
            session.execute(sa.update(Membership).where(Membership.id == m.id).values(
                state=state, observation_starts_at=started, observation_ends_at=started + dt.timedelta(days=180),
                state_changed_at=started))
            ids.append(m.id)
    return ids


def add_version(session, plan_code: str, now: dt.datetime, **changes) -> int:
    """A new current rule version of the plan (as a changed catalogue would load), `changes` applied."""
    with atomic(session):
        plan, current = get_plan(session, plan_code)
        version = PlanVersion(plan_id=plan.id, version=current.version + 1, rules={**current.rules, **changes},
                              rules_sha256=f"test-{next(_n)}", summary=current.summary, created_at=now)
        session.add(version)
        session.flush()
        plan.current_version_id = version.id
        return version.id


# --- claims ------------------------------------------------------------------------------------
def add_claim(session, membership_id: int, approved_fen: int, publicity_ends_at: dt.datetime,
              status: str = "ready") -> int:
    """A claim approved for `approved_fen` whose publicity ends at `publicity_ends_at`."""
    with atomic(session):
        m = session.get(Membership, membership_id)
        claim = Claim(
            user_id=m.user_id, membership_id=m.id, plan_id=m.plan_id, status=status, incident_type="illness",
            incident_date=dt.date(2026, 1, 5), diagnosis_date=dt.date(2026, 1, 6), diagnosis="急性白血病",
            hospital="某医院", city="成都", description="", approved_aid_fen=approved_fen,
            publicity_started_at=publicity_ends_at - dt.timedelta(days=5), publicity_ends_at=publicity_ends_at,
            submitted_at=publicity_ends_at - dt.timedelta(days=20), updated_at=publicity_ends_at,
        )
        session.add(claim)
        session.flush()
        return claim.id


def settle_collected(claim_id: int, shares: dict[int, int], run_id: int, now) -> int:
    """A stand-in for an apportionment run, for payout UNIT tests only: made-up deduction and settle
    postings (payers' shares → plan pool → aid payable) and the claim set to 'collected' directly,
    with a `run_id` that names no real run. End-to-end tests run the real engine instead
    (app.services.apportionment prepare/publish/execute; see test_case_end_to_end)."""
    from app.extensions import db
    from app.models import Plan

    session = db.session
    claim = session.get(Claim, claim_id)
    code = session.get(Plan, claim.plan_id).code
    pool = ledger.account_id(session, ledger.plan_account_code(code, "plan_pool"))
    payable = ledger.account_id(session, ledger.plan_account_code(code, "aid_payable"))
    total = sum(shares.values())
    with atomic(session):
        legs = [ledger.Leg(memberships.member_account_id(session, m), -fen) for m, fen in shares.items()]
        ledger.post_transaction(session, idempotency_key=f"test-run-{run_id}-deduct", reason="deduction",
                                legs=legs + [ledger.Leg(pool, total)], now=now)
        ledger.post_transaction(session, idempotency_key=f"test-run-{run_id}-settle", reason="settle",
                                legs=[ledger.Leg(pool, -total), ledger.Leg(payable, total)], now=now)
        session.execute(sa.update(Claim).where(Claim.id == claim_id).values(
            status="collected", collected_aid_fen=total, collected_by_run_id=run_id, updated_at=now))
    return total


# --- money -------------------------------------------------------------------------------------
def top_up(session, membership_id: int, fen: int, now: dt.datetime, *, payer_user_id: int | None = None) -> int:
    """A paid top-up as payments settles one: the paid WeChat order and its credit (reference 'order',
    initiated by the payer, the owner unless `payer_user_id` sponsors it). Returns the order id."""
    k = next(_n)
    with atomic(session):
        m = session.get(Membership, membership_id)
        payer = payer_user_id or m.user_id
        order = PaymentOrder(out_trade_no=f"AT{k:08d}", membership_id=m.id, payer_user_id=payer, amount_fen=fen,
                             status="paid", transaction_id=f"TT{k:08d}", created_at=now, expires_at=now, paid_at=now)
        session.add(order)
        session.flush()
        memberships.credit(session, membership_id=membership_id, amount_fen=fen, idempotency_key=f"topup-{k}",
                           now=now, reference_type="order", reference_id=str(order.id), initiated_by_user_id=payer)
        return order.id


def add_paid_orders(session, membership_ids, now: dt.datetime) -> None:
    """A paid WeChat order behind each balance (what a real top-up leaves), so leaving can refund it."""
    from tests.support.reads import balances

    with atomic(session):
        for membership_id in membership_ids:
            m = session.get(Membership, membership_id)
            held = balances(session, [membership_id]).get(membership_id, 0)
            if held:
                k = next(_n)
                session.add(PaymentOrder(out_trade_no=f"AP{k:08d}", membership_id=m.id, payer_user_id=m.user_id,
                                         amount_fen=held, status="paid", transaction_id=f"TX{k:08d}",
                                         created_at=now, expires_at=now, paid_at=now))


def seed_surplus(session, plan_code: str, fen: int, now: dt.datetime) -> None:
    """The plan's surplus holds `fen`, as earlier over-collection would leave it (money in from outside,
    so the ledger's conservation holds)."""
    with atomic(session):
        ledger.post_transaction(
            session, idempotency_key=f"seed-surplus-{next(_n)}", reason="test_seed", now=now,
            legs=[ledger.Leg(ledger.account_id(session, "system:wechat_pay_in"), -fen),
                  ledger.Leg(ledger.account_id(session, ledger.plan_account_code(plan_code, "plan_surplus")), fen)])


def leave_and_refund(session, membership_id: int, now: dt.datetime, *, complete: bool = True) -> int:
    """The whole balance to refund_pending (reason leave), then its refund completed."""
    with atomic(session):
        balance = ledger.balance_of(session, memberships.member_account_id(session, membership_id))
        if not balance:
            return 0
        m = session.get(Membership, membership_id)
        refund_orders.move_to_refund_pending(session, membership_id=membership_id, amount_fen=balance,
                                             key=f"rep-leave-{next(_n)}", now=now, user_id=m.user_id)
        order = PaymentOrder(out_trade_no=f"rep{next(_n)}", membership_id=membership_id, payer_user_id=m.user_id,
                             amount_fen=balance, status="paid", created_at=now, expires_at=now, paid_at=now)
        session.add(order)
        session.flush()
        refund = PaymentRefund(out_refund_no=f"rep-r{next(_n)}", order_id=order.id, membership_id=membership_id,
                               amount_fen=balance, status="pending", attempts=1, created_at=now, updated_at=now)
        session.add(refund)
        session.flush()
        if complete:
            refunds.complete_refund(session, refund.out_refund_no, now)
    return balance


def pay_aid(session, plan_code: str, amount_fen: int, now: dt.datetime) -> None:
    """Aid payable → aid paid out, as payouts settles it."""
    with atomic(session):
        ledger.post_transaction(
            session, idempotency_key=f"rep-aid-{next(_n)}", reason="aid_payout", now=now,
            legs=[ledger.Leg(ledger.account_id(session, ledger.plan_account_code(plan_code, "aid_payable")), -amount_fen),
                  ledger.Leg(ledger.account_id(session, "system:aid_paid_out"), amount_fen)],
            reference_type="payout_transfer", reference_id=f"bill-{next(_n)}")


# --- operators and events ----------------------------------------------------------------------
def make_operator(username, *roles, organisation=None, now):
    from app.extensions import db

    return operators.create_operator(db.session, username=username, password=PASSWORD, roles=list(roles),
                                     organisation=organisation, now=now)


def make_staff(now) -> dict:
    """Two reviewers, two investigators of different organisations, finance, an auditor."""
    make_operator("rev", "reviewer", now=now)
    make_operator("rev2", "reviewer", now=now)
    inv = make_operator("inv", "investigator", organisation="平安公估", now=now)
    make_operator("inv_other", "investigator", organisation="另一家公估", now=now)
    make_operator("fin", "finance", now=now)
    make_operator("aud", "auditor", now=now)
    return {"org_id": inv.organisation_id}


def make_protected(clock, days=200) -> None:
    """Time passes beyond the observation period and the members advance to protected."""
    from app.extensions import db

    clock.advance(days=days)
    memberships.advance(db.session, clock.now())


def record(session, kind: str, clock, **fields) -> int:
    """A domain event, recorded in its own transaction."""
    with atomic(session):
        return events.record(session, kind, now=clock.now(), **fields)


def wind_down_in_final_run(session, plan_code: str, now: dt.datetime):
    """A wind-down of the plan whose final run is done (status final_run, closing date yesterday),
    proposed and confirmed by two operators, written directly (the path to it is tested elsewhere):
    where the balance-return tests start."""
    from app.models import PlanWindDown

    with atomic(session):
        plan_id = session.execute(sa.text("SELECT id FROM plans WHERE code = :c"), {"c": plan_code}).scalar_one()
        proposer, confirmer = (session.execute(sa.text(
            "INSERT INTO operators (username, password_hash, roles, active, created_at) "
            "VALUES (:u, 'x', :r, true, :now) RETURNING id"), {"u": f"wd-{role}", "r": role, "now": now}).scalar_one()
            for role in ("reviewer", "finance"))
        found = PlanWindDown(plan_id=plan_id, status="final_run", closing_date=now.date() - dt.timedelta(days=1),
                             proposed_by_operator_id=proposer, confirmed_by_operator_id=confirmer, proposed_at=now,
                             announced_at=now, surplus_fen=0)
        session.add(found)
    return found

