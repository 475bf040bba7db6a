"""The operators' path: review (return or assign), investigation (report or reject), with the
separation of duties between a case's reviewer, investigator and finance approver."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Claim, Membership, Operator, PlanVersion

from .. import events
from ..errors import Conflict, Forbidden, InvalidRequest, NotFound
from ..operators import get_organisation, require_role
from ..unit_of_work import atomic
from .core import STATUS_WORDS, change_status, documents, lock_claim


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


def ensure_separate_duties(claim: Claim, operator: Operator, duty: str) -> None:
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
        claim = lock_claim(session, claim_id)
        ensure_separate_duties(claim, operator, "reviewer")
        change_status(session, claim, "under_review", actor="reviewer", note="平台开始审核材料", now=now, operator=operator,
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
        claim = lock_claim(session, claim_id)
        _own_review(claim, operator)
        change_status(session, claim, "returned", actor="reviewer", note=f"请补充：{missing}", now=now, operator=operator,
                      reason=missing, missing_items=missing)
    return claim


def assign(session: Session, operator: Operator, claim_id: int, organisation_id: int, now: dt.datetime) -> Claim:
    require_role(operator, "reviewer")
    with atomic(session):
        organisation = get_organisation(session, organisation_id)
        claim = lock_claim(session, claim_id)
        _own_review(claim, operator)
        if not documents(session, claim.id):
            raise InvalidRequest("申请还没有任何材料，不能交给调查机构", code="documents_missing")
        change_status(session, claim, "investigating", actor="reviewer", now=now, operator=operator,
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
        claim = lock_claim(session, claim_id)
        if claim.status == "under_review" and "reviewer" in operator.role_set:
            _own_review(claim, operator)
            actor, extra = "reviewer", {}
        elif claim.status == "investigating" and "investigator" in operator.role_set:
            _investigates(claim, operator)
            actor, extra = "investigator", {"investigator_id": operator.id}
        else:
            raise Conflict(f"案件当前状态为「{STATUS_WORDS[claim.status]}」，你不能拒绝它",
                           code="claim_transition_invalid")
        change_status(session, claim, "rejected", actor=actor, note=f"不予互助：{reason}", now=now, operator=operator,
                      reason=reason, rejection_reason=reason, closed_at=now, **extra)
    return claim


def _investigates(claim: Claim, operator: Operator) -> None:
    if claim.organisation_id != operator.organisation_id:
        raise NotFound("没有找到这个案件", code="claim_not_found")
    ensure_separate_duties(claim, operator, "investigator")


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
        claim = lock_claim(session, claim_id)
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
        change_status(session, claim, "publicity", actor="investigator", now=now, operator=operator,
                      note=f"调查完成，核定互助金 {amount} 分，公示 {publicity_days} 天",
                      investigator_id=operator.id, findings=report_.findings.strip(),
                      investigation_summary=report_.summary.strip(), aid_item_code=item["code"],
                      approved_aid_fen=amount,
                      publicity_started_at=now, publicity_ends_at=now + dt.timedelta(days=publicity_days))
        events.record(session, "announcement.published", now=now, claim_id=claim.id, plan_id=claim.plan_id,
                      user_id=claim.user_id, payload={"approved_aid_fen": amount,
                                                      "publicity_ends_at": claim.publicity_ends_at.isoformat()})
    return claim
