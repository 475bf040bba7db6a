"""Rule-change proposals (docs/rule-changes.md): a changed plan in the catalogue is put to the
members, who answer once per membership; the rules change only when the proposal passes."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime

PROPOSAL_STATUSES = ("open", "passed", "failed", "in_force", "withdrawn")  # withdrawn: the plan winds down
ANSWERS = ("agree", "disagree")
_pending_sql = "status IN ('open', 'passed')"


class RuleChangeProposal(Base):
    """One proposed move of a plan from `from_version` to `to_version`. The proposed version is an
    ordinary immutable plan_versions row that is NOT the plan's current version (nobody joins under
    it, nobody holds it) until the proposal passes and its effective date comes."""

    __tablename__ = "rule_change_proposals"
    __table_args__ = (
        CheckConstraint("status IN ('open','passed','failed','in_force','withdrawn')", name="status_valid"),
        # One change at a time per plan: an open or passed-but-not-yet-in-force proposal.
        Index("uq_rule_change_proposals_pending_per_plan", "plan_id", unique=True,
              postgresql_where=text(_pending_sql), sqlite_where=text(_pending_sql)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"), index=True)
    from_version_id: Mapped[int] = mapped_column(BigId, ForeignKey("plan_versions.id"))
    to_version_id: Mapped[int] = mapped_column(BigId, ForeignKey("plan_versions.id"))
    status: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(100))
    summary_text: Mapped[str] = mapped_column(Text)
    differences: Mapped[list] = mapped_column(JSON)
    window_opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    effective_on: Mapped[dt.date] = mapped_column(Date)  # China date
    effective_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # 00:00 China time of effective_on
    notice_ends_on: Mapped[dt.date | None] = mapped_column(Date)  # last day to leave with a full refund
    # The quorum, frozen when the proposal opens (a later change of the settings does not apply).
    agree_numerator: Mapped[int] = mapped_column(Integer)
    agree_denominator: Mapped[int] = mapped_column(Integer)
    min_turnout_percent: Mapped[int] = mapped_column(Integer)
    # The tally, frozen when the window closes (live while open).
    agree_count: Mapped[int | None] = mapped_column(BigInteger)
    disagree_count: Mapped[int | None] = mapped_column(BigInteger)
    eligible_count: Mapped[int | None] = mapped_column(BigInteger)
    moved_count: Mapped[int | None] = mapped_column(BigInteger)  # memberships moved when it came into force
    outcome_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    in_force_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RuleChangeAnswer(Base):
    """A membership's answer, given once by its payer."""

    __tablename__ = "rule_change_answers"
    __table_args__ = (
        CheckConstraint("answer IN ('agree','disagree')", name="answer_valid"),
        UniqueConstraint("proposal_id", "membership_id", name="uq_rule_change_answers_proposal_membership"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(BigId, ForeignKey("rule_change_proposals.id"))
    membership_id: Mapped[int] = mapped_column(BigId, ForeignKey("memberships.id"), index=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    answer: Mapped[str] = mapped_column(String(10))
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
