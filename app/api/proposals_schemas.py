"""Schemas of rule-change proposals (the API contract of issue 14; docs/rule-changes.md)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.models import ANSWERS, PROPOSAL_STATUSES


class DifferenceOut(Schema):
    field = fields.String(required=True, metadata={
        "description": "share_cap_fen | fee_bps | ages | aid_table | observation_days | max_aid_fen | "
                       "min_prepay_fen | covered_incidents | exclusions | health_questions | name | summary"})
    label = fields.String(required=True, metadata={"description": "the rule's name in plain words"})
    before_text = fields.String(required=True)
    after_text = fields.String(required=True)
    text = fields.String(required=True, metadata={"description": "the change in one plain sentence"})


class QuorumOut(Schema):
    agree_ratio_text = fields.String(required=True, metadata={"example": "同意者不少于答复者的三分之二"})
    agree_numerator = fields.Integer(required=True)
    agree_denominator = fields.Integer(required=True)
    min_turnout_percent = fields.Integer(required=True, metadata={
        "description": "at least this share of all eligible memberships must answer"})
    eligible_count = fields.Integer(required=True)


class TallyOut(Schema):
    agree = fields.Integer(required=True)
    disagree = fields.Integer(required=True)
    answered = fields.Integer(required=True)
    eligible = fields.Integer(required=True, metadata={
        "description": "memberships in an active state (those the change would bind); live while open"})
    turnout_percent = fields.Integer(required=True, metadata={"description": "answered × 100 ÷ eligible, rounded down"})


class ProposalOut(Schema):
    id = fields.Integer(required=True)
    plan_code = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(PROPOSAL_STATUSES))
    title = fields.String(required=True)
    summary_text = fields.String(required=True)
    differences = fields.List(fields.Nested(DifferenceOut), required=True)
    from_version = fields.Integer(allow_none=True, metadata={"description": "the plan version in force before"})
    to_version = fields.Integer(allow_none=True, metadata={"description": "the proposed plan version"})
    window_opens_at = fields.DateTime(required=True)
    window_closes_at = fields.DateTime(required=True)
    effective_on = fields.Date(required=True, metadata={"description": "China date the new rules apply from"})
    notice_ends_on = fields.Date(required=True, allow_none=True, metadata={
        "description": "last day a member who disagreed may leave with a full refund (null once failed)"})
    quorum = fields.Nested(QuorumOut, required=True)
    tally = fields.Nested(TallyOut, required=True)
    outcome_text = fields.String(required=True, allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    in_force_at = fields.DateTime(allow_none=True)


class ProposalList(Schema):
    items = fields.List(fields.Nested(ProposalOut), required=True)


class MemberProposalOut(ProposalOut):
    my_answer = fields.String(required=True, allow_none=True, validate=validate.OneOf(ANSWERS))
    can_answer = fields.Boolean(required=True)
    can_leave_with_full_refund = fields.Boolean(required=True, metadata={
        "description": "disagreed with a passed change and the notice period runs: leaving refunds the whole "
                       "balance (POST /memberships/{id}/leave), less only a share already owed to a prepared run"})


class MemberProposalList(Schema):
    items = fields.List(fields.Nested(MemberProposalOut), required=True)


class AnswerIn(Schema):
    answer = fields.String(required=True, validate=validate.OneOf(ANSWERS))


class AnswerOut(Schema):
    proposal_id = fields.Integer(required=True)
    membership_id = fields.Integer(required=True)
    answer = fields.String(required=True)
    answered_at = fields.DateTime(required=True)
    tally = fields.Nested(TallyOut, required=True)
