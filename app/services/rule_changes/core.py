"""What every step shares: the settings (Quorum, ProposalSettings), the tally, a step's audit line
and finding a proposal."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import ACTIVE_STATES, Membership, RuleChangeAnswer, RuleChangeProposal

from .. import audit_chain
from ..errors import InvalidRequest, NotFound

PENDING_STATUSES = ("open", "passed")
TARGET = "rule_change"
AGREE_RATIO_WORDS = {(2, 3): "三分之二", (1, 2): "二分之一", (3, 4): "四分之三", (3, 5): "五分之三"}


# --- settings -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Quorum:
    agree_numerator: int = 2
    agree_denominator: int = 3
    min_turnout_percent: int = 10

    def __post_init__(self):
        if not (0 < self.agree_numerator <= self.agree_denominator) or not (0 <= self.min_turnout_percent <= 100):
            raise InvalidRequest("表决规则无效：同意比例须在0到1之间，最低答复比例在0到100之间", code="quorum_invalid")

    def passes(self, agree: int, answered: int, eligible: int) -> bool:
        """Passed: agree ≥ numerator/denominator of those who answered AND answered ≥ the minimum
        turnout of the eligible memberships (integer arithmetic; nobody answered → failed)."""
        return (answered > 0 and agree * self.agree_denominator >= self.agree_numerator * answered
                and answered * 100 >= self.min_turnout_percent * eligible)

    @property
    def agree_ratio_text(self) -> str:
        words = AGREE_RATIO_WORDS.get((self.agree_numerator, self.agree_denominator),
                                      f"{self.agree_denominator}分之{self.agree_numerator}")
        return f"同意者不少于答复者的{words}"


@dataclass(frozen=True)
class ProposalSettings:
    window_days: int = 14
    notice_days: int = 30
    quorum: Quorum = Quorum()
    quorum_by_plan: dict = field(default_factory=dict)  # plan code → Quorum
    effective_on: dt.date | None = None  # default: the window's last day + notice_days
    operator_id: int | None = None  # who put the change to the members (None: the CLI)

    @classmethod
    def from_config(cls, config, *, window_days: int | None = None, notice_days: int | None = None,
                    effective_on: dt.date | None = None, operator_id: int | None = None) -> ProposalSettings:
        return cls(window_days=window_days if window_days is not None else config["PROPOSAL_WINDOW_DAYS"],
                   notice_days=notice_days if notice_days is not None else config["PROPOSAL_NOTICE_DAYS"],
                   quorum=Quorum(**config["PROPOSAL_QUORUM"]),
                   quorum_by_plan={code: Quorum(**q) for code, q in config["PROPOSAL_QUORUM_BY_PLAN"].items()},
                   effective_on=effective_on, operator_id=operator_id)

    def quorum_for(self, plan_code: str) -> Quorum:
        return self.quorum_by_plan.get(plan_code, self.quorum)


# --- tally ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tally:
    agree: int
    disagree: int
    eligible: int

    @property
    def answered(self) -> int:
        return self.agree + self.disagree

    @property
    def turnout_percent(self) -> int:
        return self.answered * 100 // self.eligible if self.eligible else 0

    def out(self) -> dict:
        return {"agree": self.agree, "disagree": self.disagree, "answered": self.answered,
                "eligible": self.eligible, "turnout_percent": self.turnout_percent}


def eligible_count(session: Session, plan_id: int) -> int:
    return session.execute(select(func.count()).select_from(Membership).where(
        Membership.plan_id == plan_id, Membership.state.in_(ACTIVE_STATES))).scalar_one()


def live_tally(session: Session, proposal: RuleChangeProposal) -> Tally:
    """Two grouped queries: the answers of memberships still active, and the active memberships."""
    counts = dict(session.execute(
        select(RuleChangeAnswer.answer, func.count())
        .join(Membership, Membership.id == RuleChangeAnswer.membership_id)
        .where(RuleChangeAnswer.proposal_id == proposal.id, Membership.state.in_(ACTIVE_STATES))
        .group_by(RuleChangeAnswer.answer)).all())
    return Tally(int(counts.get("agree", 0)), int(counts.get("disagree", 0)), eligible_count(session, proposal.plan_id))


def tally_of(session: Session, proposal: RuleChangeProposal) -> Tally:
    """Live while the window is open, frozen once it has closed."""
    if proposal.status == "open":
        return live_tally(session, proposal)
    return Tally(proposal.agree_count or 0, proposal.disagree_count or 0, proposal.eligible_count or 0)


def quorum_of(proposal: RuleChangeProposal) -> Quorum:
    return Quorum(proposal.agree_numerator, proposal.agree_denominator, proposal.min_turnout_percent)


# --- a step's audit line, finding a proposal ----------------------------------------------
def audit(session: Session, action: str, proposal_id: int, now: dt.datetime, *, operator_id: int | None = None,
          before: dict | None = None, after: dict | None = None) -> None:
    audit_chain.append(session, operator_id=operator_id, action=action, target_type=TARGET, target_id=proposal_id,
                       now=now, before=before, after=after)


def not_found() -> NotFound:
    return NotFound("没有找到这项规则变更或这份互助", code="not_found")


def get_proposal(session: Session, proposal_id: int, *, for_update: bool = False) -> RuleChangeProposal:
    query = select(RuleChangeProposal).where(RuleChangeProposal.id == proposal_id)
    found = session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if found is None:
        raise not_found()
    return found


def is_window_open(proposal: RuleChangeProposal, now: dt.datetime) -> bool:
    return proposal.status == "open" and proposal.window_opens_at <= now < proposal.window_closes_at
