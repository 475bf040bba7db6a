"""Closing (the frozen tally decides), coming into force (every active membership moves to the new
version in one UPDATE), the scheduler's `advance`, and the rules in force for apportionment."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, Membership, Plan, PlanVersion, RuleChangeProposal

from .. import events
from ..errors import Conflict
from ..unit_of_work import atomic
from .core import AGREE_RATIO_WORDS, PENDING_STATUSES, Quorum, Tally, audit, get_proposal, live_tally, quorum_of


# --- closing and coming into force ---------------------------------------------------------
def _outcome_text(passed: bool, tally: Tally, quorum: Quorum, proposal: RuleChangeProposal) -> str:
    counts = (f"{tally.eligible}份互助中{tally.answered}份答复（{tally.turnout_percent}%），"
              f"同意{tally.agree}、不同意{tally.disagree}")
    if passed:
        return (f"已通过：{counts}。新规则自{proposal.effective_on}起适用于全部在保会员；不同意者可在"
                f"{proposal.notice_ends_on}前退出，余额全额原路退回（只扣已准备的分摊中应付的份额）。")
    reasons = []
    if tally.answered * 100 < quorum.min_turnout_percent * tally.eligible or tally.answered == 0:
        reasons.append(f"答复不足全部会员的{quorum.min_turnout_percent}%")
    if tally.agree * quorum.agree_denominator < quorum.agree_numerator * tally.answered or tally.answered == 0:
        reasons.append(f"同意者未达答复者的{AGREE_RATIO_WORDS.get((quorum.agree_numerator, quorum.agree_denominator), '规定比例')}")
    return f"未通过（{'，'.join(reasons)}）：{counts}。规则不变，提案存档。"


def close(session: Session, proposal_id: int, now: dt.datetime, *, operator_id: int | None = None
          ) -> RuleChangeProposal:
    """Decide an open proposal whose window has ended, from its tally frozen now."""
    with atomic(session):
        proposal = get_proposal(session, proposal_id, for_update=True)
        if proposal.status != "open":
            raise Conflict("这项规则变更已经有结果", code="proposal_not_open", details={"status": proposal.status})
        if now < proposal.window_closes_at:
            raise Conflict("征求意见期还没有结束", code="window_not_over",
                           details={"window_closes_at": proposal.window_closes_at.isoformat()})
        tally = live_tally(session, proposal)
        quorum = quorum_of(proposal)
        passed = quorum.passes(tally.agree, tally.answered, tally.eligible)
        proposal.status = "passed" if passed else "failed"
        proposal.agree_count, proposal.disagree_count = tally.agree, tally.disagree
        proposal.eligible_count, proposal.closed_at = tally.eligible, now
        if not passed:
            proposal.notice_ends_on = None
        proposal.outcome_text = _outcome_text(passed, tally, quorum, proposal)
        session.flush()
        audit(session, "rule_change.passed" if passed else "rule_change.failed", proposal.id, now,
              operator_id=operator_id, before={"status": "open"}, after={"status": proposal.status, **tally.out()})
        events.record(session, "proposal.closed", now=now, plan_id=proposal.plan_id,
                      payload={"proposal_id": proposal.id, "status": proposal.status, **tally.out()})
    return proposal


def withdraw_for_wind_down(session: Session, plan_id: int, closing_date: dt.date, now: dt.datetime, *,
                           operator_id: int | None = None) -> list[int]:
    """A plan that winds down changes no rule: its pending proposal (open, or passed and not yet in
    force) is withdrawn in the caller's transaction (the wind-down's confirmation), its tally frozen
    as it stands; nobody's version moves. Returns the ids withdrawn."""
    pending = list(session.execute(select(RuleChangeProposal).where(
        RuleChangeProposal.plan_id == plan_id, RuleChangeProposal.status.in_(PENDING_STATUSES))
        .order_by(RuleChangeProposal.id).with_for_update()).scalars())
    for proposal in pending:
        before = proposal.status
        tally = live_tally(session, proposal) if before == "open" else None
        if tally is not None:
            proposal.agree_count, proposal.disagree_count = tally.agree, tally.disagree
            proposal.eligible_count = tally.eligible
        proposal.status, proposal.notice_ends_on = "withdrawn", None
        proposal.closed_at = proposal.closed_at or now
        proposal.outcome_text = (f"已撤回：计划将于{closing_date:%Y年%m月%d日}停止运行，规则不再变更，"
                                 "全部余额按停止计划退回。")
        session.flush()
        audit(session, "rule_change.withdrawn", proposal.id, now, operator_id=operator_id,
              before={"status": before}, after={"status": "withdrawn", "closing_date": closing_date.isoformat()})
        events.record(session, "proposal.withdrawn", now=now, plan_id=plan_id,
                      payload={"proposal_id": proposal.id, "closing_date": closing_date.isoformat()})
    return [p.id for p in pending]


def bring_into_force(session: Session, proposal_id: int, now: dt.datetime, *, operator_id: int | None = None
                     ) -> RuleChangeProposal:
    """On the effective date: every active membership of the plan moves to the new version (one
    set-based UPDATE) and the plan's current version becomes it, in one transaction."""
    with atomic(session):
        proposal = get_proposal(session, proposal_id, for_update=True)
        if proposal.status != "passed":
            raise Conflict("只有已通过的规则变更可以生效", code="proposal_not_passed", details={"status": proposal.status})
        if now < proposal.effective_at:
            raise Conflict("还没到生效日期", code="not_effective_yet",
                           details={"effective_on": proposal.effective_on.isoformat()})
        _lock_open_run(session, proposal.plan_id)
        plan = session.execute(select(Plan).where(Plan.id == proposal.plan_id).with_for_update()).scalar_one()
        version = session.get(PlanVersion, proposal.to_version_id)
        moved = _move_members(session, proposal)
        plan.current_version_id, plan.name = version.id, version.rules["name"]
        proposal.status, proposal.in_force_at, proposal.moved_count = "in_force", now, moved
        session.flush()
        audit(session, "rule_change.in_force", proposal.id, now, operator_id=operator_id,
              before={"status": "passed", "plan_version_id": proposal.from_version_id},
              after={"status": "in_force", "plan_version_id": version.id, "memberships_moved": moved})
        events.record(session, "proposal.in_force", now=now, plan_id=proposal.plan_id,
                      payload={"proposal_id": proposal.id, "to_version_id": version.id, "moved": moved})
    return proposal


def _lock_open_run(session: Session, plan_id: int) -> None:
    """The plan's open run first, the lock order of a run's chunks and of leaving (run, memberships,
    accounts): moving the memberships never deadlocks with a chunk suspending some of them."""
    from ..apportionment import lock_open_run  # apportionment imports this package

    lock_open_run(session, plan_id)


def _move_members(session: Session, proposal: RuleChangeProposal) -> int:
    return session.execute(
        update(Membership).where(Membership.plan_id == proposal.plan_id, Membership.state.in_(ACTIVE_STATES),
                                 Membership.plan_version_id != proposal.to_version_id)
        .values(plan_version_id=proposal.to_version_id).execution_options(synchronize_session=False)).rowcount


def _sweep_stragglers(session: Session, now: dt.datetime) -> int:
    """A join that read the old current version just before a proposal came into force commits a
    membership on the old version: the proposal binds it too. Moves such stragglers (audited)."""
    moved_total = 0
    for proposal in session.execute(select(RuleChangeProposal).join(Plan, Plan.id == RuleChangeProposal.plan_id).where(
            RuleChangeProposal.status == "in_force", Plan.current_version_id == RuleChangeProposal.to_version_id)
            ).scalars().all():
        with atomic(session):
            _lock_open_run(session, proposal.plan_id)
            moved = session.execute(
                update(Membership).where(Membership.plan_id == proposal.plan_id, Membership.state.in_(ACTIVE_STATES),
                                         Membership.plan_version_id == proposal.from_version_id)
                .values(plan_version_id=proposal.to_version_id).execution_options(synchronize_session=False)).rowcount
            if moved:
                audit(session, "rule_change.stragglers_moved", proposal.id, now, after={"memberships_moved": moved})
        moved_total += moved
    return moved_total


@dataclass(frozen=True)
class AdvanceResult:
    closed: list[int]
    in_force: list[int]
    stragglers: int = 0


def advance(session: Session, now: dt.datetime) -> AdvanceResult:
    """Close every proposal whose window has ended; bring into force every passed one whose
    effective date has come. Each proposal in its own transaction; safe to run again."""
    due_close = list(session.execute(select(RuleChangeProposal.id).where(
        RuleChangeProposal.status == "open", RuleChangeProposal.window_closes_at <= now)
        .order_by(RuleChangeProposal.id)).scalars())
    closed = [close(session, pid, now).id for pid in due_close]
    due_force = list(session.execute(select(RuleChangeProposal.id).where(
        RuleChangeProposal.status == "passed", RuleChangeProposal.effective_at <= now)
        .order_by(RuleChangeProposal.id)).scalars())
    in_force = [bring_into_force(session, pid, now).id for pid in due_force]
    return AdvanceResult(closed, in_force, _sweep_stragglers(session, now))


# --- the rules in force (apportionment) ----------------------------------------------------
def version_in_force(session: Session, plan_id: int, at: dt.datetime) -> PlanVersion | None:
    """The plan's rule version in force at `at` by its passed proposals' effective dates, or None
    when no proposal of the plan has passed (the memberships' versions decide, as before)."""
    changes = session.execute(select(RuleChangeProposal.from_version_id, RuleChangeProposal.to_version_id,
                                     RuleChangeProposal.effective_at).where(
        RuleChangeProposal.plan_id == plan_id, RuleChangeProposal.status.in_(("passed", "in_force")))
        .order_by(RuleChangeProposal.effective_at, RuleChangeProposal.id)).all()
    if not changes:
        return None
    version_id = changes[0].from_version_id
    for change in changes:
        if change.effective_at <= at:
            version_id = change.to_version_id
    return session.get(PlanVersion, version_id)
