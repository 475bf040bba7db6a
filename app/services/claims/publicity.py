"""Publicity and objections: the public, anonymised announcements, members' objections and the
reviewers' rulings on them, and the end of publicity (→ ready for the next run)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import (
    OBJECTING_STATES, PUBLISHED_CLAIM_STATUSES, Claim, ClaimObjection, InvestigationOrganisation, Membership, Operator,
    Plan,
)

from .. import events
from ..errors import Conflict, Forbidden, InvalidRequest, NotFound
from ..idcard import age_years
from ..operators import record_audit, require_role
from ..unit_of_work import atomic
from .core import add_timeline_entry, change_status, lock_claim
from .review import ensure_separate_duties


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
        .where(Claim.status.in_(PUBLISHED_CLAIM_STATUSES), Claim.publicity_started_at.is_not(None), *conditions)
        .order_by(Claim.publicity_started_at.desc(), Claim.id.desc()).limit(limit)
    ).all()
    by_claim: dict[int, list[ClaimObjection]] = {r[0].id: [] for r in rows}
    if by_claim:  # one query for the page's objections, not one per announcement
        for objection in session.execute(select(ClaimObjection).where(ClaimObjection.claim_id.in_(by_claim))
                                         .order_by(ClaimObjection.id)).scalars():
            by_claim[objection.claim_id].append(objection)
    return [Announcement(claim=r[0], plan_code=r[1], plan_name=r[2], person_name_masked=r[3],
                         age_years=age_years(r[4], r[0].incident_date), sex=r[5], organisation=r[6],
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
        if claim is None or claim.status not in PUBLISHED_CLAIM_STATUSES or claim.publicity_started_at is None:
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
        add_timeline_entry(session, claim.id, claim.status, claim.status, "member", "有成员提出异议，平台将复核", now)
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
        claim = lock_claim(session, objection.claim_id)
        ensure_separate_duties(claim, operator, "reviewer")
        status = "upheld" if upheld else "dismissed"
        session.execute(update(ClaimObjection).where(ClaimObjection.id == objection.id)
                        .values(status=status, resolution=resolution, resolved_by_operator_id=operator.id,
                                resolved_at=now).execution_options(synchronize_session=False))
        session.refresh(objection)
        record_audit(session, operator_id=operator.id, action=f"objection.{status}", target_type="claim",
                     target_id=claim.id, before={"objection_id": objection.id, "status": "pending"},
                     after={"objection_id": objection.id, "status": status}, now=now)
        if upheld and claim.status == "publicity":
            change_status(session, claim, "investigating", actor="reviewer", now=now, operator=operator,
                          note="异议成立，案件退回重新调查", reason="objection_upheld", approved_aid_fen=None,
                          aid_item_code=None, publicity_started_at=None, publicity_ends_at=None)
        else:
            add_timeline_entry(session, claim.id, claim.status, claim.status, "reviewer",
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
            add_timeline_entry(session, row.id, "publicity", "ready", "system", "公示期结束，无异议，等待下一次分摊", now)
            events.record(session, "claim.status_changed", now=now, claim_id=row.id, user_id=row.user_id,
                          plan_id=row.plan_id, membership_id=row.membership_id,
                          payload={"from": "publicity", "to": "ready"})
    return sorted(r.id for r in rows)
