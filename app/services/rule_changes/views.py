"""What the API, the console and the CLI read: the public proposal object and the payer's view."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, Membership, Plan, PlanVersion, RuleChangeAnswer, RuleChangeProposal

from ..clock import china_date
from ..errors import NotFound
from .core import Tally, get_proposal, is_window_open, not_found, quorum_of, tally_of


# --- reading -------------------------------------------------------------------------------
def describe(session: Session, proposal: RuleChangeProposal, plan_code: str, tally: Tally | None = None) -> dict:
    """The public proposal object (docs/rule-changes.md; the API contract of issue 14)."""
    tally = tally or tally_of(session, proposal)
    quorum = quorum_of(proposal)
    versions = dict(session.execute(select(PlanVersion.id, PlanVersion.version).where(
        PlanVersion.id.in_((proposal.from_version_id, proposal.to_version_id)))).all())
    return {
        "id": proposal.id, "plan_code": plan_code, "status": proposal.status, "title": proposal.title,
        "summary_text": proposal.summary_text,
        "differences": [{k: d[k] for k in ("field", "label", "before_text", "after_text", "text")}
                        for d in proposal.differences],
        "from_version": versions.get(proposal.from_version_id), "to_version": versions.get(proposal.to_version_id),
        "window_opens_at": proposal.window_opens_at, "window_closes_at": proposal.window_closes_at,
        "effective_on": proposal.effective_on, "notice_ends_on": proposal.notice_ends_on,
        "quorum": {"agree_ratio_text": quorum.agree_ratio_text, "agree_numerator": quorum.agree_numerator,
                   "agree_denominator": quorum.agree_denominator,
                   "min_turnout_percent": quorum.min_turnout_percent, "eligible_count": tally.eligible},
        "tally": tally.out(), "outcome_text": proposal.outcome_text,
        "closed_at": proposal.closed_at, "in_force_at": proposal.in_force_at,
    }


def plan_code_of(session: Session, plan_id: int) -> str:
    return session.execute(select(Plan.code).where(Plan.id == plan_id)).scalar_one()


def for_plan(session: Session, plan_code: str) -> list[dict]:
    plan = session.execute(select(Plan).where(Plan.code == plan_code)).scalar_one_or_none()
    if plan is None:
        raise NotFound("没有这个互助计划", code="plan_not_found", details={"plan_code": plan_code})
    proposals = session.execute(select(RuleChangeProposal).where(RuleChangeProposal.plan_id == plan.id)
                                .order_by(RuleChangeProposal.id.desc())).scalars().all()
    return [describe(session, p, plan.code) for p in proposals]


def public(session: Session, proposal_id: int) -> dict:
    proposal = get_proposal(session, proposal_id)
    return describe(session, proposal, plan_code_of(session, proposal.plan_id))


def for_membership(session: Session, *, user_id: int, membership_id: int, now: dt.datetime) -> list[dict]:
    """The payer's view: every proposal of the membership's plan, newest first, with its answer,
    whether it may answer now and whether it may leave with a full refund (it disagreed with a
    passed proposal and the notice period has not ended)."""
    member = session.execute(select(Membership.plan_id, Membership.state).where(
        Membership.id == membership_id, Membership.user_id == user_id)).one_or_none()
    if member is None:
        raise not_found()
    plan_code = plan_code_of(session, member.plan_id)
    mine = dict(session.execute(select(RuleChangeAnswer.proposal_id, RuleChangeAnswer.answer).where(
        RuleChangeAnswer.membership_id == membership_id)).all())
    active = member.state in ACTIVE_STATES
    items = []
    for proposal in session.execute(select(RuleChangeProposal).where(RuleChangeProposal.plan_id == member.plan_id)
                                    .order_by(RuleChangeProposal.id.desc())).scalars():
        my_answer = mine.get(proposal.id)
        items.append({
            **describe(session, proposal, plan_code), "my_answer": my_answer,
            "can_answer": active and my_answer is None and is_window_open(proposal, now),
            "can_leave_with_full_refund": may_leave_with_full_refund(proposal, my_answer, member.state, now),
        })
    return items


def may_leave_with_full_refund(proposal: RuleChangeProposal, my_answer: str | None, state: str,
                               now: dt.datetime) -> bool:
    return (proposal.status == "passed" and my_answer == "disagree" and state in ACTIVE_STATES
            and proposal.notice_ends_on is not None and china_date(now) <= proposal.notice_ends_on)


def all_proposals(session: Session, *, plan_id: int | None = None, limit: int = 200) -> list[RuleChangeProposal]:
    query = select(RuleChangeProposal).order_by(RuleChangeProposal.id.desc()).limit(limit)
    if plan_id is not None:
        query = query.where(RuleChangeProposal.plan_id == plan_id)
    return list(session.execute(query).scalars())
