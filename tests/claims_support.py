"""Helpers for claims tests: protected members, operators, and (for payout unit tests only) a
stand-in for the state an apportionment run leaves a case in."""
from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import update

from app.extensions import db
from app.models import Claim, Plan
from app.services import ledger, memberships, operators
from app.services.clock import china_date
from app.services.unit_of_work import atomic
from tests.support import CLAIM_CONSENT, JOIN_CONSENT, login, make_id_number, no_answers, region_code, years_ago

PASSWORD = "correct horse battery staple"
_regions = itertools.count(11)  # a region per person: tests.support's serial repeats after a sex adjustment


def join_and_fund(client, headers, clock, *, plan="adult_789", age=30, name="张三丰", sex="M", relation="self",
                  amount_fen=300) -> tuple[int, str]:
    id_number = make_id_number(years_ago(china_date(clock.now()), age), sex, region=region_code(next(_regions)))
    body = {"plan_code": plan, "relation": relation, "person": {"name": name, "id_number": id_number},
            "answers": no_answers(), "consent": JOIN_CONSENT}
    response = client.post("/api/v1/memberships", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    membership_id = response.get_json()["id"]
    with atomic(db.session):
        memberships.credit(db.session, membership_id=membership_id, amount_fen=amount_fen,
                           idempotency_key=f"test-topup-{membership_id}", now=clock.now())
    return membership_id, id_number


def make_protected(clock, days=200) -> None:
    clock.advance(days=days)
    memberships.advance(db.session, clock.now())


def make_operator(username, *roles, organisation=None, now):
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


def operator_login(client, username) -> dict:
    response = client.post("/api/v1/admin/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def claim_body(membership_id, clock, *, incident_days_ago=5, diagnosis_days_ago=None, incident_type="illness"):
    today = china_date(clock.now())
    incident = today - dt.timedelta(days=incident_days_ago)
    diagnosis = today - dt.timedelta(days=incident_days_ago if diagnosis_days_ago is None else diagnosis_days_ago)
    return {"membership_id": membership_id, "incident_type": incident_type, "incident_date": incident.isoformat(),
            "diagnosis_date": diagnosis.isoformat(), "diagnosis": "急性白血病", "hospital": "北京协和医院",
            "city": "北京", "description": "住院治疗中", "consent": CLAIM_CONSENT}


def settle_collected(claim_id: int, shares: dict[int, int], run_id: int, now) -> int:
    """A stand-in for an apportionment run, for payout UNIT tests only: made-up deduction and settle
    postings (payers' shares → plan pool → aid payable) and the claim set to 'collected' directly,
    with a `run_id` that names no real run. End-to-end tests run the real engine instead
    (app.services.apportionment prepare/publish/execute; see test_case_end_to_end)."""
    claim = db.session.get(Claim, claim_id)
    code = db.session.get(Plan, claim.plan_id).code
    pool = ledger.account_id(db.session, ledger.plan_account_code(code, "plan_pool"))
    payable = ledger.account_id(db.session, ledger.plan_account_code(code, "aid_payable"))
    total = sum(shares.values())
    with atomic(db.session):
        legs = [ledger.Leg(memberships.member_account_id(db.session, m), -fen) for m, fen in shares.items()]
        ledger.post_transaction(db.session, idempotency_key=f"test-run-{run_id}-deduct", reason="deduction",
                                legs=legs + [ledger.Leg(pool, total)], now=now)
        ledger.post_transaction(db.session, idempotency_key=f"test-run-{run_id}-settle", reason="settle",
                                legs=[ledger.Leg(pool, -total), ledger.Leg(payable, total)], now=now)
        db.session.execute(update(Claim).where(Claim.id == claim_id).values(
            status="collected", collected_aid_fen=total, collected_by_run_id=run_id, updated_at=now))
    return total


def member(client, emulator, openid):
    return login(client, emulator.url, openid)
