"""A case from report to publicity and payout, through the services alone (tests/fakes.py: SQLite,
a frozen clock, WeChat Pay faked in memory; no HTTP). The API tests (tests/api/test_claims_api.py)
cover the same rules through the blueprints."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from app.models import Claim
from app.services import claims, consents, memberships, operators, payouts
from app.services.claim_documents import add_document
from app.services.clock import china_date
from app.services.errors import Conflict, Forbidden, InvalidRequest
from app.services.unit_of_work import atomic
from tests.fakes import world  # noqa: F401  (fixture)

PASSWORD = "correct horse battery staple"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def staff(world):
    def make(username, *roles, organisation=None):
        return operators.create_operator(world.session, username=username, password=PASSWORD, roles=list(roles),
                                         organisation=organisation, now=world.now())

    return {"reviewer": make("rev", "reviewer"), "reviewer2": make("rev2", "reviewer"),
            "investigator": make("inv", "investigator", organisation="平安公估"),
            "finance": make("fin", "finance")}


def _protected_member(world) -> tuple[int, int]:
    user_id = world.user()
    membership_id = world.join(user_id)
    world.top_up(user_id, membership_id, 300)
    return user_id, membership_id


@pytest.fixture
def members(world):
    """Two protected members of the same plan: a claimant and a neighbour who may object."""
    claimant, neighbour = _protected_member(world), _protected_member(world)
    world.clock.advance(days=200)
    memberships.advance(world.session, world.now())
    return claimant, neighbour


def _report(world, user_id: int, membership_id: int, *, days_ago: int = 5) -> Claim:
    day = china_date(world.now()) - dt.timedelta(days=days_ago)
    request = claims.ReportRequest(membership_id=membership_id, incident_type="illness", incident_date=day,
                                   diagnosis_date=day, diagnosis="急性白血病", hospital="北京协和医院", city="北京",
                                   consent=consents.for_claim(world.policy))
    return claims.report(world.session, user_id=user_id, request=request, now=world.now(), policy=world.policy)


def _to_publicity(world, staff, user_id: int, claim_id: int, aid_fen: int = 100_000) -> Claim:
    reviewer, investigator = staff["reviewer"], staff["investigator"]
    claims.start_review(world.session, reviewer, claim_id, world.now())
    add_document(world.session, world.config["CLAIM_DOCUMENTS_DIR"], user_id=user_id, claim_id=claim_id, data=PNG,
                 max_bytes=world.config["CLAIM_DOCUMENT_MAX_BYTES"], now=world.now(), policy=world.policy)
    claims.assign(world.session, reviewer, claim_id, investigator.organisation_id, world.now())
    report = claims.InvestigationReport(findings="病历属实", summary="确诊急性白血病", aid_item_code="major_illness",
                                        approved_aid_fen=aid_fen)
    return claims.submit_report(world.session, investigator, claim_id, report, world.now(),
                                world.config["CLAIM_PUBLICITY_DAYS"])


def _status(world, claim_id: int) -> str:
    status = world.session.execute(select(Claim.status).where(Claim.id == claim_id)).scalar_one()
    world.session.rollback()
    return status


def test_a_case_goes_from_report_through_publicity_to_ready(world, staff, members):
    (user_id, membership_id), _ = members
    claim = _report(world, user_id, membership_id)

    _to_publicity(world, staff, user_id, claim.id)
    assert _status(world, claim.id) == "publicity"
    assert claims.promote_finished_publicity(world.session, world.now()) == []  # five days first
    world.clock.advance(days=5)

    assert claims.promote_finished_publicity(world.session, world.now()) == [claim.id]
    assert claims.promote_finished_publicity(world.session, world.now()) == []
    timeline = [(e.from_status, e.to_status) for e in claims.timeline(world.session, claim.id)]
    assert timeline == [(None, "submitted"), ("submitted", "under_review"), ("under_review", "investigating"),
                        ("investigating", "publicity"), ("publicity", "ready")]


def test_a_report_during_observation_is_refused(world):
    user_id = world.user()
    membership_id = world.join(user_id)
    world.top_up(user_id, membership_id, 300)
    world.clock.advance(days=10)
    with pytest.raises(InvalidRequest) as refused:
        _report(world, user_id, membership_id)
    assert refused.value.code == "membership_in_observation"


def test_the_reviewer_of_a_case_may_not_approve_its_payout(world, staff, members):
    (user_id, membership_id), _ = members
    both = operators.create_operator(world.session, username="rev_fin", password=PASSWORD,
                                     roles=["reviewer", "finance"], organisation=None, now=world.now())
    claim = _report(world, user_id, membership_id)
    claims.start_review(world.session, both, claim.id, world.now())

    with pytest.raises(Forbidden) as refused:
        payouts.approve(world.session, both, claim.id, world.now())

    assert refused.value.code == "separation_of_duties" and refused.value.details == {"duty": "finance"}


def test_an_upheld_objection_sends_the_case_back_to_investigation(world, staff, members):
    (user_id, membership_id), (neighbour, _) = members
    claim = _report(world, user_id, membership_id)
    _to_publicity(world, staff, user_id, claim.id)

    with pytest.raises(Forbidden):
        claims.object_to(world.session, user_id=user_id, claim_id=claim.id, reason="我对自己的案件有异议", now=world.now())
    objection = claims.object_to(world.session, user_id=neighbour, claim_id=claim.id, reason="诊断日期对不上",
                                 now=world.now())
    world.clock.advance(days=6)
    assert claims.promote_finished_publicity(world.session, world.now()) == []  # an objection is pending
    claims.resolve_objection(world.session, staff["reviewer2"], objection.id, upheld=True, resolution="重新核实",
                             now=world.now())

    assert _status(world, claim.id) == "investigating"
    with pytest.raises(Conflict):
        claims.resolve_objection(world.session, staff["reviewer2"], objection.id, upheld=False, resolution="再看",
                                 now=world.now())


def test_a_collected_case_is_paid_once_when_wechat_says_the_transfer_succeeded(world, staff, members):
    (user_id, membership_id), _ = members
    claim = _report(world, user_id, membership_id)
    _to_publicity(world, staff, user_id, claim.id, aid_fen=600)
    world.clock.advance(days=5)
    claims.promote_finished_publicity(world.session, world.now())
    _collected_without_a_run(world, claim.id, 600)

    transfer = payouts.approve(world.session, staff["finance"], claim.id, world.now())
    sent = payouts.send(world.session, world.pay, transfer.id, world.now())
    assert (sent.status, sent.package_info) == ("wait_user_confirm", f"package-of-{transfer.out_bill_no}")
    world.pay.transfers[transfer.out_bill_no]["state"] = "SUCCESS"  # the claimant confirmed receipt
    synced = payouts.sync(world.session, world.pay, transfer.id, world.now())

    assert synced.status == "succeeded" and _status(world, claim.id) == "paid"
    assert world.account_balance("system:aid_paid_out") == 600
    assert payouts.sync(world.session, world.pay, transfer.id, world.now()).status == "succeeded"
    assert [n for m, n in world.pay.calls if m == "transfer"] == [transfer.out_bill_no]
    assert {"transfer", "query_transfer"}.isdisjoint(world.pay.calls_inside_a_transaction)


def _collected_without_a_run(world, claim_id: int, aid_fen: int) -> None:
    """What an apportionment run leaves (aid payable funded, the case collected), posted directly: the
    run itself is tested in tests/service/test_apportionment.py; here only the payout is under test."""
    from app.models import Plan
    from app.services import ledger

    session = world.session
    with atomic(session):
        claim = session.get(Claim, claim_id)
        code = session.execute(select(Plan.code).where(Plan.id == claim.plan_id)).scalar_one()
        ledger.post_transaction(
            session, idempotency_key=f"test-collected:{claim_id}", reason="test_collected", now=world.now(),
            legs=[ledger.Leg(ledger.account_id(session, ledger.plan_account_code(code, "aid_payable")), aid_fen),
                  ledger.Leg(ledger.account_id(session, "system:wechat_pay_in"), -aid_fen)])
        session.execute(update(Claim).where(Claim.id == claim_id).values(status="collected", collected_aid_fen=aid_fen)
                        .execution_options(synchronize_session=False))
