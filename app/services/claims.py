"""Claims: the member's report, the operators' path (review → investigation → publicity → ready),
objections, and the public, anonymised announcements. Payout is in app/services/payouts.py.

Every status change goes through `_move`: a compare-and-set UPDATE (WHERE status = from), a
timeline entry the member sees, a `claim.status_changed` event, and (for operators) an audit entry,
all in one transaction."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import (Claim, ClaimDocument, ClaimObjection, ClaimTimelineEntry, InvestigationOrganisation,
                        Membership, Operator, PayoutTransfer, Plan, PlanVersion)

from . import consents, events, wind_down
from .clock import china_date
from .errors import Conflict, Forbidden, InvalidRequest, NotFound
from .idcard import age_on
from .operators import get_organisation, record_audit, require_role
from .unit_of_work import atomic

REPORT_WITHIN_DAYS = 180
OBJECTING_STATES = ("observing", "protected", "suspended")
MEMBER_EDITABLE = ("submitted", "under_review", "returned", "investigating")
ALLOWED = {
    "submitted": {"under_review", "withdrawn"},
    "under_review": {"returned", "investigating", "rejected", "withdrawn"},
    "returned": {"under_review", "withdrawn"},
    "investigating": {"publicity", "rejected", "withdrawn"},
    "publicity": {"investigating", "ready"},
    "ready": {"collected"},
    "collected": {"paid"},
    "paid": set(), "rejected": set(), "withdrawn": set(),
}
STATUS_WORDS = {
    "submitted": "已提交", "under_review": "平台审核中", "returned": "需补充材料", "investigating": "第三方调查中",
    "publicity": "公示中", "ready": "公示结束，等待分摊", "collected": "互助金已筹集", "paid": "互助金已发放",
    "rejected": "未通过", "withdrawn": "已撤回",
}


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


def _rules_of(session: Session, claim_or_membership_version_id: int) -> dict:
    return session.execute(select(PlanVersion.rules).where(PlanVersion.id == claim_or_membership_version_id)).scalar_one()


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
        wind_down.check_claim_allowed(session, membership.plan_id, request.incident_date)  # 409 plan_closing
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
        _timeline(session, claim.id, None, "submitted", "member", "提交互助申请", now)
        consents.record(session, user_id=user_id, scopes=consents.CLAIM_SCOPES, policy_version=policy.version,
                        membership_id=membership.id, claim_id=claim.id, now=now)
        events.record(session, "claim.status_changed", now=now, claim_id=claim.id, user_id=user_id,
                      plan_id=claim.plan_id, membership_id=claim.membership_id,
                      payload={"from": None, "to": "submitted"})
    return claim


def _open_claim_exists(session: Session, membership_id: int) -> bool:
    from app.models import OPEN_CLAIM_STATUSES

    return session.execute(select(exists().where(
        Claim.membership_id == membership_id, Claim.status.in_(OPEN_CLAIM_STATUSES)))).scalar()


def _timeline(session: Session, claim_id: int, from_status: str | None, to_status: str, actor: str, note: str,
              now: dt.datetime) -> None:
    session.add(ClaimTimelineEntry(claim_id=claim_id, from_status=from_status, to_status=to_status, actor=actor,
                                   note=note, created_at=now))


def _move(session: Session, claim: Claim, to: str, *, actor: str, note: str, now: dt.datetime,
          operator: Operator | None = None, reason: str | None = None, **values) -> None:
    """Compare-and-set one transition inside the caller's transaction."""
    before = claim.status
    if to not in ALLOWED[before]:
        raise Conflict(f"案件当前状态为「{STATUS_WORDS[before]}」，不能变为「{STATUS_WORDS[to]}」",
                       code="claim_transition_invalid", details={"from": before, "to": to})
    done = session.execute(
        update(Claim).where(Claim.id == claim.id, Claim.status == before)
        .values(status=to, updated_at=now, **values).execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise Conflict("案件刚被其他人处理过，请刷新后再试", code="claim_changed_meanwhile")
    session.refresh(claim)
    _timeline(session, claim.id, before, to, actor, note, now)
    payload = {"from": before, "to": to}
    if reason:
        payload["reason"] = reason
    events.record(session, "claim.status_changed", now=now, claim_id=claim.id, user_id=claim.user_id,
                  plan_id=claim.plan_id, membership_id=claim.membership_id, payload=payload)
    if operator is not None:
        after = {"status": to}
        for key in ("organisation_id", "approved_aid_fen", "aid_item_code"):
            if key in values:
                after[key] = values[key]
        record_audit(session, operator_id=operator.id, action=f"claim.{to}", target_type="claim",
                     target_id=claim.id, before={"status": before}, after=after, now=now)


# --- member side ---------------------------------------------------------------------------------

def list_for_user(session: Session, user_id: int) -> list[Claim]:
    return list(session.execute(select(Claim).where(Claim.user_id == user_id).order_by(Claim.id.desc())).scalars())


def get_for_user(session: Session, user_id: int, claim_id: int) -> Claim:
    """Another user's claim is indistinguishable from a missing one."""
    claim = session.execute(select(Claim).where(Claim.id == claim_id, Claim.user_id == user_id)).scalar_one_or_none()
    if claim is None:
        raise NotFound("没有找到这个互助申请", code="claim_not_found")
    return claim


def timeline(session: Session, claim_id: int) -> list[ClaimTimelineEntry]:
    return list(session.execute(select(ClaimTimelineEntry).where(ClaimTimelineEntry.claim_id == claim_id)
                                .order_by(ClaimTimelineEntry.id)).scalars())


def documents(session: Session, claim_id: int) -> list[ClaimDocument]:
    return list(session.execute(select(ClaimDocument).where(ClaimDocument.claim_id == claim_id)
                                .order_by(ClaimDocument.id)).scalars())


def objections(session: Session, claim_id: int) -> list[ClaimObjection]:
    return list(session.execute(select(ClaimObjection).where(ClaimObjection.claim_id == claim_id)
                                .order_by(ClaimObjection.id)).scalars())


def latest_transfer(session: Session, claim_id: int) -> PayoutTransfer | None:
    return session.execute(select(PayoutTransfer).where(PayoutTransfer.claim_id == claim_id)
                           .order_by(PayoutTransfer.id.desc()).limit(1)).scalar_one_or_none()


def resubmit(session: Session, *, user_id: int, claim_id: int, now: dt.datetime) -> Claim:
    """The member has added what was missing: back to the reviewer."""
    with atomic(session):
        claim = get_for_user(session, user_id, claim_id)
        if claim.status != "returned":
            raise Conflict("只有被退回补充材料的申请才能重新提交", code="claim_transition_invalid")
        _move(session, claim, "under_review", actor="member", note="补充材料后重新提交", now=now, missing_items=None)
    return claim


def withdraw(session: Session, *, user_id: int, claim_id: int, now: dt.datetime) -> Claim:
    with atomic(session):
        claim = get_for_user(session, user_id, claim_id)
        _move(session, claim, "withdrawn", actor="member", note="申请人撤回", now=now, closed_at=now)
    return claim


# --- operators ----------------------------------------------------------------------------------

def get_for_operator(session: Session, operator: Operator, claim_id: int) -> Claim:
    """Investigators see only their organisation's cases; other roles see every case."""
    claim = session.get(Claim, claim_id)
    if claim is None or (operator.role_set == {"investigator"} and claim.organisation_id != operator.organisation_id):
        raise NotFound("没有找到这个案件", code="claim_not_found")
    return claim


def visible_to(operator: Operator):
    """The cases `operator` may see, as a select (investigators: their organisation's only)."""
    query = select(Claim).order_by(Claim.id)
    if operator.role_set == {"investigator"}:
        query = query.where(Claim.organisation_id == operator.organisation_id)
    return query


def list_for_operator(session: Session, operator: Operator, status: str | None = None, limit: int = 200) -> list[Claim]:
    query = visible_to(operator).limit(limit)
    if status:
        query = query.where(Claim.status == status)
    return list(session.execute(query).scalars())


def _lock(session: Session, claim_id: int, operator: Operator) -> Claim:
    claim = session.execute(select(Claim).where(Claim.id == claim_id).with_for_update()).scalar_one_or_none()
    if claim is None:
        raise NotFound("没有找到这个案件", code="claim_not_found")
    return claim


def _separate(claim: Claim, operator: Operator, duty: str) -> None:
    """Separation of duties: one case's reviewer, investigator and finance approver are three people."""
    others = {"reviewer": (claim.investigator_id, claim.finance_approver_id),
              "investigator": (claim.reviewer_id, claim.finance_approver_id),
              "finance": (claim.reviewer_id, claim.investigator_id)}[duty]
    if operator.id in others:
        raise Forbidden("同一案件的审核、调查和付款审批必须由不同的人完成", code="separation_of_duties",
                        details={"duty": duty})


def start_review(session: Session, operator: Operator, claim_id: int, now: dt.datetime) -> Claim:
    require_role(operator, "reviewer")
    with atomic(session):
        claim = _lock(session, claim_id, operator)
        _separate(claim, operator, "reviewer")
        _move(session, claim, "under_review", actor="reviewer", note="平台开始审核材料", now=now, operator=operator,
              reviewer_id=operator.id)
    return claim


def _own_review(claim: Claim, operator: Operator) -> None:
    if claim.reviewer_id != operator.id:
        raise Forbidden("这个案件由另一位审核员负责", code="not_case_reviewer")


def return_to_member(session: Session, operator: Operator, claim_id: int, missing: str, now: dt.datetime) -> Claim:
    require_role(operator, "reviewer")
    missing = (missing or "").strip()
    if not missing:
        raise InvalidRequest("请写明需要补充的材料", code="missing_items_required")
    with atomic(session):
        claim = _lock(session, claim_id, operator)
        _own_review(claim, operator)
        _move(session, claim, "returned", actor="reviewer", note=f"请补充：{missing}", now=now, operator=operator,
              reason=missing, missing_items=missing)
    return claim


def assign(session: Session, operator: Operator, claim_id: int, organisation_id: int, now: dt.datetime) -> Claim:
    require_role(operator, "reviewer")
    with atomic(session):
        organisation = get_organisation(session, organisation_id)
        claim = _lock(session, claim_id, operator)
        _own_review(claim, operator)
        if not documents(session, claim.id):
            raise InvalidRequest("申请还没有任何材料，不能交给调查机构", code="documents_missing")
        _move(session, claim, "investigating", actor="reviewer", now=now, operator=operator,
              note=f"材料齐全，交由第三方机构「{organisation.name}」调查（调查费用由平台承担）",
              organisation_id=organisation.id)
    return claim


def reject(session: Session, operator: Operator, claim_id: int, reason: str, now: dt.datetime) -> Claim:
    """A reviewer (during review) or the investigating organisation (after investigation) rejects the case."""
    require_role(operator, "reviewer", "investigator")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("请写明不予互助的原因，申请人会看到", code="rejection_reason_required")
    with atomic(session):
        claim = _lock(session, claim_id, operator)
        if claim.status == "under_review" and "reviewer" in operator.role_set:
            _own_review(claim, operator)
            actor, extra = "reviewer", {}
        elif claim.status == "investigating" and "investigator" in operator.role_set:
            _investigates(claim, operator)
            actor, extra = "investigator", {"investigator_id": operator.id}
        else:
            raise Conflict(f"案件当前状态为「{STATUS_WORDS[claim.status]}」，你不能拒绝它",
                           code="claim_transition_invalid")
        _move(session, claim, "rejected", actor=actor, note=f"不予互助：{reason}", now=now, operator=operator,
              reason=reason, rejection_reason=reason, closed_at=now, **extra)
    return claim


def _investigates(claim: Claim, operator: Operator) -> None:
    if claim.organisation_id != operator.organisation_id:
        raise NotFound("没有找到这个案件", code="claim_not_found")
    _separate(claim, operator, "investigator")


@dataclass(frozen=True)
class InvestigationReport:
    findings: str
    summary: str
    aid_item_code: str
    approved_aid_fen: int


def claim_rules(session: Session, claim: Claim) -> dict:
    """The rules of the plan version the claimant's membership is on (its aid table and maximum)."""
    return session.execute(select(PlanVersion.rules).join(Membership, Membership.plan_version_id == PlanVersion.id)
                           .where(Membership.id == claim.membership_id)).scalar_one()


def submit_report(session: Session, operator: Operator, claim_id: int, report_: InvestigationReport,
                  now: dt.datetime, publicity_days: int) -> Claim:
    """The organisation's report approves an amount by the plan's aid table; the case is published."""
    require_role(operator, "investigator")
    if not report_.findings.strip() or not report_.summary.strip():
        raise InvalidRequest("请填写调查结论和公示摘要", code="report_incomplete")
    with atomic(session):
        claim = _lock(session, claim_id, operator)
        _investigates(claim, operator)
        if claim.status != "investigating":
            raise Conflict(f"案件当前状态为「{STATUS_WORDS[claim.status]}」，不能提交调查报告",
                           code="claim_transition_invalid")
        rules = claim_rules(session, claim)
        item = next((i for i in rules["aid_table"] if i["code"] == report_.aid_item_code), None)
        if item is None:
            raise InvalidRequest("互助金表中没有这一项", code="aid_item_unknown",
                                 details={"items": [i["code"] for i in rules["aid_table"]]})
        ceiling = min(item["max_aid_fen"], rules["max_aid_fen"])
        amount = report_.approved_aid_fen
        if type(amount) is not int or amount <= 0:
            raise InvalidRequest("互助金额必须是正整数（分）", code="amount_invalid")
        if amount > ceiling:
            raise InvalidRequest(f"互助金额不能超过本计划该项目的上限 {ceiling} 分", code="aid_above_maximum",
                                 details={"max_aid_fen": ceiling})
        _move(session, claim, "publicity", actor="investigator", now=now, operator=operator,
              note=f"调查完成，核定互助金 {amount} 分，公示 {publicity_days} 天",
              investigator_id=operator.id, findings=report_.findings.strip(),
              investigation_summary=report_.summary.strip(), aid_item_code=item["code"], approved_aid_fen=amount,
              publicity_started_at=now, publicity_ends_at=now + dt.timedelta(days=publicity_days))
        events.record(session, "announcement.published", now=now, claim_id=claim.id, plan_id=claim.plan_id,
                      user_id=claim.user_id, payload={"approved_aid_fen": amount,
                                                      "publicity_ends_at": claim.publicity_ends_at.isoformat()})
    return claim


# --- publicity ----------------------------------------------------------------------------------

PUBLISHED = ("publicity", "ready", "collected", "paid")


@dataclass(frozen=True)
class Announcement:
    claim: Claim
    plan_code: str
    plan_name: str
    person_name_masked: str
    age_years: int
    sex: str
    organisation: str | None
    objections: list[ClaimObjection]


def _announcements(session: Session, *conditions, limit: int = 100) -> list[Announcement]:
    rows = session.execute(
        select(Claim, Plan.code, Plan.name, Membership.person_name_masked, Membership.birth_date, Membership.sex,
               InvestigationOrganisation.name)
        .join(Plan, Plan.id == Claim.plan_id).join(Membership, Membership.id == Claim.membership_id)
        .outerjoin(InvestigationOrganisation, InvestigationOrganisation.id == Claim.organisation_id)
        .where(Claim.status.in_(PUBLISHED), Claim.publicity_started_at.is_not(None), *conditions)
        .order_by(Claim.publicity_started_at.desc(), Claim.id.desc()).limit(limit)
    ).all()
    by_claim: dict[int, list[ClaimObjection]] = {r[0].id: [] for r in rows}
    if by_claim:  # one query for the page's objections, not one per announcement
        for objection in session.execute(select(ClaimObjection).where(ClaimObjection.claim_id.in_(by_claim))
                                         .order_by(ClaimObjection.id)).scalars():
            by_claim[objection.claim_id].append(objection)
    return [Announcement(claim=r[0], plan_code=r[1], plan_name=r[2], person_name_masked=r[3],
                         age_years=age_on(r[4], r[0].incident_date)[0], sex=r[5], organisation=r[6],
                         objections=by_claim[r[0].id]) for r in rows]


def list_announcements(session: Session, plan_code: str | None = None, *, limit: int = 100,
                       after: tuple[dt.datetime, int] | None = None) -> list[Announcement]:
    """Newest publicity first, a page of `limit`. `after` is the (publicity_started_at, id) of the last
    announcement of the previous page (keyset: no duplicate or gap while new cases are published)."""
    conditions = [Plan.code == plan_code] if plan_code else []
    if after is not None:
        started, claim_id = after
        conditions.append(or_(Claim.publicity_started_at < started,
                              and_(Claim.publicity_started_at == started, Claim.id < claim_id)))
    return _announcements(session, *conditions, limit=limit)


def get_announcement(session: Session, claim_id: int) -> Announcement:
    found = _announcements(session, Claim.id == claim_id)
    if not found:
        raise NotFound("没有这条公示", code="announcement_not_found")
    return found[0]


def object_to(session: Session, *, user_id: int, claim_id: int, reason: str, now: dt.datetime) -> ClaimObjection:
    """A member of the same plan objects, once per case, while it is in publicity."""
    reason = (reason or "").strip()
    if not 5 <= len(reason) <= 1000:
        raise InvalidRequest("请写明异议的理由（5至1000字）", code="objection_reason_invalid")
    with atomic(session):
        claim = session.get(Claim, claim_id)
        if claim is None or claim.status not in PUBLISHED or claim.publicity_started_at is None:
            raise NotFound("没有这条公示", code="announcement_not_found")
        if claim.status != "publicity" or now >= claim.publicity_ends_at:
            raise Conflict("公示期已结束，不能再提出异议", code="publicity_over")
        if claim.user_id == user_id:
            raise Forbidden("申请人不能对自己的案件提出异议", code="objection_by_claimant")
        same_plan = session.execute(select(exists().where(
            Membership.user_id == user_id, Membership.plan_id == claim.plan_id,
            Membership.state.in_(OBJECTING_STATES)))).scalar()
        if not same_plan:
            raise Forbidden("只有同一互助计划的成员才能提出异议", code="not_plan_member")
        objection = ClaimObjection(claim_id=claim.id, user_id=user_id, reason=reason, status="pending", created_at=now)
        session.add(objection)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("你已经对这个案件提出过异议", code="objection_exists") from None
        _timeline(session, claim.id, claim.status, claim.status, "member", "有成员提出异议，平台将复核", now)
    return objection


def resolve_objection(session: Session, operator: Operator, objection_id: int, *, upheld: bool, resolution: str,
                      now: dt.datetime) -> ClaimObjection:
    """A reviewer (not the case's investigator) decides; upheld sends the case back to investigation."""
    require_role(operator, "reviewer")
    resolution = (resolution or "").strip()
    if not resolution:
        raise InvalidRequest("请写明处理意见，公示中会显示", code="resolution_required")
    with atomic(session):
        objection = session.execute(select(ClaimObjection).where(ClaimObjection.id == objection_id)
                                    .with_for_update()).scalar_one_or_none()
        if objection is None:
            raise NotFound("没有这条异议", code="objection_not_found")
        if objection.status != "pending":
            raise Conflict("这条异议已经处理过", code="objection_already_resolved")
        claim = _lock(session, objection.claim_id, operator)
        _separate(claim, operator, "reviewer")
        status = "upheld" if upheld else "dismissed"
        session.execute(update(ClaimObjection).where(ClaimObjection.id == objection.id)
                        .values(status=status, resolution=resolution, resolved_by_operator_id=operator.id,
                                resolved_at=now).execution_options(synchronize_session=False))
        session.refresh(objection)
        record_audit(session, operator_id=operator.id, action=f"objection.{status}", target_type="claim",
                     target_id=claim.id, before={"objection_id": objection.id, "status": "pending"},
                     after={"objection_id": objection.id, "status": status}, now=now)
        if upheld and claim.status == "publicity":
            _move(session, claim, "investigating", actor="reviewer", now=now, operator=operator,
                  note="异议成立，案件退回重新调查", reason="objection_upheld", approved_aid_fen=None,
                  aid_item_code=None, publicity_started_at=None, publicity_ends_at=None)
        else:
            _timeline(session, claim.id, claim.status, claim.status, "reviewer",
                      "异议成立" if upheld else "异议经复核不成立", now)
        events.record(session, "objection.resolved", now=now, claim_id=claim.id, user_id=objection.user_id,
                      plan_id=claim.plan_id, payload={"upheld": upheld, "objection_id": objection.id})
    return objection


def promote_finished_publicity(session: Session, now: dt.datetime) -> list[int]:
    """publicity → ready when the 5 days are over and no objection is pending. Safe to run twice."""
    pending = exists().where(ClaimObjection.claim_id == Claim.id, ClaimObjection.status == "pending")
    with atomic(session):
        rows = session.execute(
            update(Claim).where(Claim.status == "publicity", Claim.publicity_ends_at <= now, ~pending)
            .values(status="ready", updated_at=now).returning(Claim.id, Claim.user_id, Claim.plan_id,
                                                               Claim.membership_id)
            .execution_options(synchronize_session=False)
        ).all()
        for row in rows:
            _timeline(session, row.id, "publicity", "ready", "system", "公示期结束，无异议，等待下一次分摊", now)
            events.record(session, "claim.status_changed", now=now, claim_id=row.id, user_id=row.user_id,
                          plan_id=row.plan_id, membership_id=row.membership_id,
                          payload={"from": "publicity", "to": "ready"})
    return sorted(r.id for r in rows)
