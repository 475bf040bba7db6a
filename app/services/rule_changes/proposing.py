"""Proposing (a changed catalogue entry opens a proposal, or is adopted at once when nobody is
asked) and answering (once per membership, by its payer)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, ANSWERS, Membership, Plan, PlanVersion, RuleChangeAnswer, RuleChangeProposal

from .. import audit_chain, events
from ..clock import CHINA_TZ, china_date
from ..errors import Conflict, InvalidRequest
from ..unit_of_work import atomic
from .core import (PENDING_STATUSES, ProposalSettings, Tally, audit, eligible_count, get_proposal, is_window_open,
                   live_tally, not_found)
from .wording import differences


# --- proposing (from the catalogue) --------------------------------------------------------
def pending_proposal(session: Session, plan_id: int) -> RuleChangeProposal | None:
    return session.execute(select(RuleChangeProposal).where(
        RuleChangeProposal.plan_id == plan_id, RuleChangeProposal.status.in_(PENDING_STATUSES))).scalar_one_or_none()


def _effective_at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=CHINA_TZ).astimezone(dt.timezone.utc)


def catalogue_change(session: Session, plan: Plan, current: PlanVersion, rules: dict, digest: str,
                     now: dt.datetime, settings: ProposalSettings, new_version) -> tuple[str, str]:
    """What a changed catalogue entry does (caller's transaction, from plans.load_catalogue).
    Returns (outcome, note): "proposed" (a proposal opened), "adopted" (no active membership: the
    rules apply at once), or "waiting" (a change is already pending, or the members rejected exactly
    these rules: nothing changes). `new_version(rules, digest)` stores a version row."""
    from ..wind_down.guards import confirmed_wind_down  # wind_down imports this package

    closing = confirmed_wind_down(session, plan.id)
    if closing is not None:
        return "waiting", f"{plan.code}: 计划将于{closing.closing_date}停止运行，不再提出规则变更"
    pending = pending_proposal(session, plan.id)
    if pending is not None:
        same = session.get(PlanVersion, pending.to_version_id).rules_sha256 == digest
        note = "已在征求意见" if same else "另一项规则变更尚未结束，本次变更未提出"
        return "waiting", f"{plan.code}: {note}（提案#{pending.id}）"
    rejected = session.execute(
        select(RuleChangeProposal.id).join(PlanVersion, PlanVersion.id == RuleChangeProposal.to_version_id)
        .where(RuleChangeProposal.plan_id == plan.id, RuleChangeProposal.status == "failed",
               RuleChangeProposal.from_version_id == current.id, PlanVersion.rules_sha256 == digest)
        .order_by(RuleChangeProposal.id.desc()).limit(1)).scalar_one_or_none()
    if rejected is not None:
        return "waiting", f"{plan.code}: 会员已否决同样的变更（提案#{rejected}），不再自动提出"
    version = new_version(rules, digest)
    if eligible_count(session, plan.id) == 0:
        before_id = current.id
        plan.current_version_id = version.id
        plan.name = rules["name"]
        session.flush()
        audit_chain.append(session, operator_id=settings.operator_id, action="rule_change.adopted_without_members",
                           target_type="plan", target_id=plan.id, now=now,
                           before={"plan_version_id": before_id}, after={"plan_version_id": version.id})
        events.record(session, "plan.rules_adopted", now=now, plan_id=plan.id,
                      payload={"from_version_id": before_id, "to_version_id": version.id, "members": 0})
        return "adopted", f"{plan.code}: 没有在保会员，新规则直接生效（第{version.version}版）"
    proposal = open_proposal(session, plan, current, version, now, settings)
    return "proposed", f"{plan.code}: 规则变更提案#{proposal.id}，征求意见至{china_date(proposal.window_closes_at)}"


def open_proposal(session: Session, plan: Plan, current: PlanVersion, version: PlanVersion, now: dt.datetime,
                  settings: ProposalSettings) -> RuleChangeProposal:
    if settings.window_days < 1 or settings.notice_days < 0:
        raise InvalidRequest("征求意见期至少1天，通知期不能为负", code="proposal_settings_invalid")
    closes = now + dt.timedelta(days=settings.window_days)
    effective_on = settings.effective_on or (china_date(closes) + dt.timedelta(days=max(1, settings.notice_days)))
    if _effective_at(effective_on) <= closes:
        raise InvalidRequest("生效日期必须在征求意见期结束之后", code="effective_date_too_early",
                             details={"window_closes_at": closes.isoformat()})
    diffs = differences(current.rules, version.rules)
    quorum = settings.quorum_for(plan.code)
    notice_ends_on = effective_on - dt.timedelta(days=1)
    labels = "、".join(d["label"] for d in diffs) or "规则说明"
    summary = (f"拟将{current.rules['name']}的规则由第{current.version}版改为第{version.version}版：" +
               "；".join(d["text"] for d in diffs) +
               f"。征求意见至{china_date(closes)}（北京时间），{quorum.agree_ratio_text}且答复者不少于全部会员的"
               f"{quorum.min_turnout_percent}%即通过；通过后自{effective_on}起适用于全部会员，不同意者可在"
               f"{notice_ends_on}前退出，余额全额原路退回。未通过则规则不变。")
    proposal = RuleChangeProposal(
        plan_id=plan.id, from_version_id=current.id, to_version_id=version.id, status="open",
        title=f"{current.rules['name']}规则变更：{labels}"[:100], summary_text=summary, differences=diffs,
        window_opens_at=now, window_closes_at=closes, effective_on=effective_on, effective_at=_effective_at(effective_on),
        notice_ends_on=notice_ends_on, agree_numerator=quorum.agree_numerator,
        agree_denominator=quorum.agree_denominator, min_turnout_percent=quorum.min_turnout_percent, created_at=now)
    session.add(proposal)
    session.flush()
    audit(session, "rule_change.proposed", proposal.id, now, operator_id=settings.operator_id,
          after={"plan_id": plan.id, "from_version_id": current.id, "to_version_id": version.id,
                 "window_closes_at": closes.isoformat(), "effective_on": effective_on.isoformat(),
                 "fields": [d["field"] for d in diffs]})
    events.record(session, "proposal.opened", now=now, plan_id=plan.id,
                  payload={"proposal_id": proposal.id, "window_closes_at": closes.isoformat()})
    return proposal


# --- answering -----------------------------------------------------------------------------
@dataclass(frozen=True)
class AnswerResult:
    proposal_id: int
    membership_id: int
    answer: str
    answered_at: dt.datetime
    tally: Tally


def answer(session: Session, *, user_id: int, membership_id: int, proposal_id: int, answer: str,
           now: dt.datetime) -> AnswerResult:
    """The payer answers for one membership, once. Another user's membership, or a proposal of
    another plan, is not found (404); a second answer is already_answered, an answer outside the
    window proposal_closed (409)."""
    if answer not in ANSWERS:
        raise InvalidRequest("请选择同意或不同意", code="answer_invalid")
    with atomic(session):
        member = session.execute(select(Membership.plan_id, Membership.state).where(
            Membership.id == membership_id, Membership.user_id == user_id)).one_or_none()
        if member is None:
            raise not_found()
        proposal = get_proposal(session, proposal_id)
        if proposal.plan_id != member.plan_id:
            raise not_found()
        if session.execute(select(RuleChangeAnswer.id).where(
                RuleChangeAnswer.proposal_id == proposal_id, RuleChangeAnswer.membership_id == membership_id)).first():
            raise Conflict("这份互助已经表过态了，每份互助只能表态一次", code="already_answered")
        if not is_window_open(proposal, now):
            raise Conflict("征求意见期已经结束", code="proposal_closed",
                           details={"window_closes_at": proposal.window_closes_at.isoformat()})
        if member.state not in ACTIVE_STATES:
            raise Conflict("这份互助已经结束，不参与表决", code="membership_ended", details={"state": member.state})
        session.add(RuleChangeAnswer(proposal_id=proposal_id, membership_id=membership_id, user_id=user_id,
                                     answer=answer, answered_at=now))
        try:
            session.flush()
        except IntegrityError:  # a concurrent answer for the same membership won
            raise Conflict("这份互助已经表过态了，每份互助只能表态一次", code="already_answered") from None
        events.record(session, "proposal.answered", now=now, user_id=user_id, plan_id=proposal.plan_id,
                      membership_id=membership_id, payload={"proposal_id": proposal_id, "answer": answer})
        tally = live_tally(session, proposal)
    return AnswerResult(proposal_id, membership_id, answer, now, tally)
