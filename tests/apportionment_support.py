"""Small-scale fixtures for apportionment tests (both backends): members with chosen balances
in good standing, and claims whose publicity is over. Money goes through memberships.credit."""
from __future__ import annotations

import datetime as dt
import itertools

import sqlalchemy as sa

from app.models import Claim, Membership, User
from app.services import ledger, memberships
from app.services.plans import get_plan
from app.services.unit_of_work import atomic
from app.services.users import new_invite_code

_n = itertools.count(1)


def make_user(session, now: dt.datetime) -> int:
    with atomic(session):
        user = User(openid=f"o-ap-{next(_n)}", invite_code=new_invite_code(), created_at=now, last_login_at=now)
        session.add(user)
        session.flush()
        return user.id


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
            if balance:
                memberships.credit(session, membership_id=m.id, amount_fen=balance, idempotency_key=f"seed-{k}",
                                   now=now)
            session.execute(sa.update(Membership).where(Membership.id == m.id).values(
                state=state, observation_starts_at=started, observation_ends_at=started + dt.timedelta(days=180),
                state_changed_at=started))
            ids.append(m.id)
    return ids


def add_claim(session, membership_id: int, approved_fen: int, publicity_ends_at: dt.datetime,
              status: str = "ready") -> int:
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


def balances(session, membership_ids) -> dict[int, int]:
    rows = session.execute(sa.text(
        "SELECT membership_id, balance_fen FROM accounts WHERE kind = 'member'")).all()
    wanted = set(membership_ids)
    return {m: b for m, b in rows if m in wanted}


def states(session, membership_ids) -> dict[int, str]:
    rows = session.execute(sa.select(Membership.id, Membership.state).where(Membership.id.in_(list(membership_ids))))
    return dict(rows.all())


def run_postings(session, run_id: int) -> list[tuple[int, int]]:
    """(membership_id, amount) of every member posting of the run's chunk transactions."""
    return [tuple(r) for r in session.execute(sa.text(
        "SELECT a.membership_id, p.amount_fen FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id "
        "JOIN accounts a ON a.id = p.account_id WHERE t.reference_type = 'apportionment_run' "
        "AND t.reference_id = :r AND t.reason = 'deduction' AND a.kind = 'member'"), {"r": str(run_id)}).all()]


def add_version(session, plan_code: str, now: dt.datetime, **changes) -> int:
    """A new current rule version of the plan (as a changed catalogue would load), `changes` applied."""
    from app.models import PlanVersion

    with atomic(session):
        plan, current = get_plan(session, plan_code)
        version = PlanVersion(plan_id=plan.id, version=current.version + 1, rules={**current.rules, **changes},
                              rules_sha256=f"test-{next(_n)}", summary=current.summary, created_at=now)
        session.add(version)
        session.flush()
        plan.current_version_id = version.id
        return version.id


def add_paid_orders(session, membership_ids, now: dt.datetime) -> None:
    """A paid WeChat order behind each balance (what a real top-up leaves), so leaving can refund it."""
    from app.models import PaymentOrder

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


class RecordingPay:
    """The refund side of the pay gateway, in memory: accepts every refund and remembers it."""
    mchid = "1900000109"

    def __init__(self):
        self.refunds: list[tuple[str, int]] = []

    def refund(self, out_refund_no, *, out_trade_no, refund_fen, total_fen, reason):
        self.refunds.append((out_trade_no, refund_fen))
        return {"refund_id": f"WX{out_refund_no}", "status": "PROCESSING"}


def top_up(session, membership_id: int, fen: int, now: dt.datetime) -> None:
    """A paid top-up: the order and its credit."""
    from app.models import PaymentOrder

    k = next(_n)
    with atomic(session):
        m = session.get(Membership, membership_id)
        session.add(PaymentOrder(out_trade_no=f"AT{k:08d}", membership_id=m.id, payer_user_id=m.user_id,
                                 amount_fen=fen, status="paid", transaction_id=f"TT{k:08d}", created_at=now,
                                 expires_at=now, paid_at=now))
        memberships.credit(session, membership_id=membership_id, amount_fen=fen, idempotency_key=f"topup-{k}", now=now)


def reset_database(app, session, clock) -> None:
    """An empty database with the catalogue loaded: each hypothesis example starts afresh."""
    from app.extensions import db
    from app.services.plans import load_catalogue
    from tests.conftest import clean_database

    session.remove()  # an idle transaction would block TRUNCATE on PostgreSQL
    clean_database(db.engine)
    load_catalogue(session, app.config["PLANS_FILE"], clock.now())
