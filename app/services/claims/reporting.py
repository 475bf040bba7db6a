"""The member's side: reporting a case under every rule of domain.md, seeing one's own claims,
resubmitting after a return, withdrawing."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import OPEN_CLAIM_STATUSES, Claim, Membership, PlanVersion

from .. import consents, events
from ..wind_down import guards as closing
from ..clock import china_date
from ..errors import Conflict, InvalidRequest, NotFound
from ..unit_of_work import atomic
from .core import add_timeline_entry, change_status


REPORT_WITHIN_DAYS = 180


@dataclass(frozen=True)
class ReportRequest:
    membership_id: int
    incident_type: str
    incident_date: dt.date
    diagnosis_date: dt.date
    diagnosis: str
    hospital: str
    city: str
    description: str = ""
    # The payer's consents, as ticked (consents.for_claim(policy) when collected elsewhere).
    consent: consents.ConsentGiven | None = None


def _rules_of(session: Session, plan_version_id: int) -> dict:
    return session.execute(select(PlanVersion.rules).where(PlanVersion.id == plan_version_id)).scalar_one()


def report(session: Session, *, user_id: int, request: ReportRequest, now: dt.datetime,
           policy: consents.PrivacyPolicy) -> Claim:
    """A payer reports a case for one of their protected memberships, with every rule of domain.md.

    Refused (403) without consent to `policy` and, separately, to processing medical documents."""
    consents.require(policy, request.consent, consents.CLAIM_SCOPES)
    today = china_date(now)
    with atomic(session):
        membership = session.execute(
            select(Membership).where(Membership.id == request.membership_id, Membership.user_id == user_id)
        ).scalar_one_or_none()
        if membership is None:
            raise NotFound("没有找到这份互助", code="membership_not_found")
        if membership.state == "observing":
            raise InvalidRequest(
                f"还在观察期内（{china_date(membership.observation_ends_at):%Y-%m-%d} 结束），观察期结束后才能申请互助",
                code="membership_in_observation")
        if membership.state != "protected":
            raise InvalidRequest("只有处于保障中的成员才能申请互助", code="membership_not_protected",
                                 details={"state": membership.state})
        closing.check_claim_allowed(session, membership.plan_id, request.incident_date)  # 409 plan_closing
        rules = _rules_of(session, membership.plan_version_id)
        if request.incident_type not in rules["covered_incidents"]:
            raise InvalidRequest("本计划不保障这类事件", code="incident_not_covered",
                                 details={"covered_incidents": rules["covered_incidents"]})
        if request.incident_date > today or request.diagnosis_date > today:
            raise InvalidRequest("发生日期和确诊日期不能晚于今天", code="date_in_future")
        if request.diagnosis_date < request.incident_date:
            raise InvalidRequest("确诊日期不能早于发生日期", code="diagnosis_before_incident")
        observation_end = china_date(membership.observation_ends_at)
        if request.incident_date <= observation_end:
            raise InvalidRequest(
                f"事件发生在观察期结束（{observation_end:%Y-%m-%d}）之前或当天，不在互助范围内",
                code="incident_before_observation_end")
        if membership.coverage_resumed_at is not None:
            # Not covered while suspended (whether the observation ended before or during it).
            resumed_on = china_date(membership.coverage_resumed_at)
            if request.incident_date <= resumed_on:
                raise InvalidRequest(
                    f"事件发生在暂停保障期间或恢复保障（{resumed_on:%Y-%m-%d}）当天及之前，不在互助范围内",
                    code="incident_while_suspended", details={"coverage_resumed_on": resumed_on.isoformat()})
        if (today - request.diagnosis_date).days > REPORT_WITHIN_DAYS:
            raise InvalidRequest(f"确诊已超过{REPORT_WITHIN_DAYS}天，不能再申请互助", code="reported_too_late",
                                 details={"days_since_diagnosis": (today - request.diagnosis_date).days})
        for field_name, limit in (("diagnosis", 200), ("hospital", 200), ("city", 60)):
            value = getattr(request, field_name).strip()
            if not value or len(value) > limit:
                raise InvalidRequest("请填写疾病诊断、医院和所在城市", code=f"{field_name}_invalid")
        if _open_claim_exists(session, membership.id):
            raise Conflict("这份互助已经有一个进行中的申请", code="open_claim_exists")
        claim = Claim(user_id=user_id, membership_id=membership.id, plan_id=membership.plan_id, status="submitted",
                      incident_type=request.incident_type, incident_date=request.incident_date,
                      diagnosis_date=request.diagnosis_date, diagnosis=request.diagnosis.strip(),
                      hospital=request.hospital.strip(), city=request.city.strip(),
                      description=(request.description or "").strip(), submitted_at=now, updated_at=now)
        session.add(claim)
        try:
            session.flush()
        except IntegrityError:  # a concurrent report for the same membership won (unique open-claim index)
            raise Conflict("这份互助已经有一个进行中的申请", code="open_claim_exists") from None
        add_timeline_entry(session, claim.id, None, "submitted", "member", "提交互助申请", now)
        consents.record(session, user_id=user_id, scopes=consents.CLAIM_SCOPES, policy_version=policy.version,
                        membership_id=membership.id, claim_id=claim.id, now=now)
        events.record(session, "claim.status_changed", now=now, claim_id=claim.id, user_id=user_id,
                      plan_id=claim.plan_id, membership_id=claim.membership_id,
                      payload={"from": None, "to": "submitted"})
    return claim


def _open_claim_exists(session: Session, membership_id: int) -> bool:
    return session.execute(select(exists().where(
        Claim.membership_id == membership_id, Claim.status.in_(OPEN_CLAIM_STATUSES)))).scalar()


def get_for_user(session: Session, user_id: int, claim_id: int) -> Claim:
    """Another user's claim is indistinguishable from a missing one."""
    claim = session.execute(select(Claim).where(Claim.id == claim_id, Claim.user_id == user_id)).scalar_one_or_none()
    if claim is None:
        raise NotFound("没有找到这个互助申请", code="claim_not_found")
    return claim


def resubmit(session: Session, *, user_id: int, claim_id: int, now: dt.datetime) -> Claim:
    """The member has added what was missing: back to the reviewer."""
    with atomic(session):
        claim = get_for_user(session, user_id, claim_id)
        if claim.status != "returned":
            raise Conflict("只有被退回补充材料的申请才能重新提交", code="claim_transition_invalid")
        change_status(session, claim, "under_review", actor="member", note="补充材料后重新提交", now=now, missing_items=None)
    return claim


def withdraw(session: Session, *, user_id: int, claim_id: int, now: dt.datetime) -> Claim:
    with atomic(session):
        claim = get_for_user(session, user_id, claim_id)
        change_status(session, claim, "withdrawn", actor="member", note="申请人撤回", now=now, closed_at=now)
    return claim
