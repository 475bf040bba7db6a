"""What every side of a claim needs: the statuses, their words and the allowed transitions; the one
way a status changes (`change_status`); the timeline the member sees; a claim's documents and
objections."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Claim, ClaimDocument, ClaimObjection, ClaimTimelineEntry, Operator

from .. import events
from ..errors import Conflict, NotFound
from ..operators import record_audit


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


def add_timeline_entry(session: Session, claim_id: int, from_status: str | None, to_status: str, actor: str,
                       note: str, now: dt.datetime) -> None:
    session.add(ClaimTimelineEntry(claim_id=claim_id, from_status=from_status, to_status=to_status, actor=actor,
                                   note=note, created_at=now))


def change_status(session: Session, claim: Claim, to: str, *, actor: str, note: str, now: dt.datetime,
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
    add_timeline_entry(session, claim.id, before, to, actor, note, now)
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


def lock_claim(session: Session, claim_id: int) -> Claim:
    claim = session.execute(select(Claim).where(Claim.id == claim_id).with_for_update()).scalar_one_or_none()
    if claim is None:
        raise NotFound("没有找到这个案件", code="claim_not_found")
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
