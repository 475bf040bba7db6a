"""Schemas of the apportionment views (runs, cases, a member's deductions)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .pagination import KeysetCursor


class RunCaseOut(Schema):
    case_id = fields.Integer(required=True)
    person = fields.String(required=True, metadata={"description": "masked name, e.g. 张*"})
    age_years = fields.Integer(required=True)
    incident_type = fields.String(required=True)
    diagnosis = fields.String(required=True)
    city = fields.String(required=True)
    approved_aid_fen = fields.Integer(required=True)
    limited_aid_fen = fields.Integer(required=True, metadata={"description": "min(approved, share cap × payers)"})
    due_aid_fen = fields.Integer(required=True, metadata={
        "description": "what the run promises the case: the limited aid, less only when the payer set did not settle"})
    collected_aid_fen = fields.Integer(allow_none=True)
    shortfall_fen = fields.Integer(allow_none=True, metadata={
        "description": "after execution: aid still owed to the case, carried by the next run"})
    carried_from_run_id = fields.Integer(allow_none=True, metadata={
        "description": "set when this row collects an amount an earlier run still owed the case"})


class PayerRoundOut(Schema):
    payers = fields.Integer(required=True)
    share_fen = fields.Integer(required=True)
    able = fields.Integer(required=True, metadata={"description": "members who can pay that share"})


class RunOut(Schema):
    id = fields.Integer(required=True)
    plan_code = fields.String(required=True)
    status = fields.String(required=True)
    cut_off_at = fields.DateTime(required=True)
    published_at = fields.DateTime(allow_none=True)
    executed_at = fields.DateTime(allow_none=True)
    case_count = fields.Integer(required=True)
    share_fen = fields.Integer(required=True)
    share_cap_fen = fields.Integer(required=True)
    payer_count = fields.Integer(required=True, metadata={"description": "payers when the share was fixed"})
    low_balance_count = fields.Integer(required=True)
    approved_aid_fen = fields.Integer(required=True)
    limited_aid_fen = fields.Integer(required=True)
    fee_fen = fields.Integer(required=True)
    management_fee_bp = fields.Integer(required=True)
    surplus_before_fen = fields.Integer(required=True)
    surplus_used_fen = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True)
    paid_count = fields.Integer(required=True, metadata={"description": "members debited so far"})
    collected_fen = fields.Integer(required=True)
    suspended_count = fields.Integer(required=True)
    aid_collected_fen = fields.Integer(allow_none=True)
    fee_collected_fen = fields.Integer(allow_none=True)
    over_collection_fen = fields.Integer(allow_none=True)
    surplus_after_fen = fields.Integer(allow_none=True)
    withheld_count = fields.Integer(required=True, metadata={
        "description": "payers whose membership ended before their chunk: the share was withheld then (in paid_count)"})
    ended_unpaid_count = fields.Integer(allow_none=True, metadata={
        "description": "candidates whose membership ended before their chunk without paying"})
    surplus_cover_fen = fields.Integer(allow_none=True, metadata={
        "description": "taken from the plan's surplus at settlement to cover a gap in the aid due"})
    shortfall_fen = fields.Integer(allow_none=True, metadata={
        "description": "aid still owed to the cases after settlement, carried to the next run"})
    payer_set_settled = fields.Boolean(required=True, metadata={
        "description": "false: share → who can pay → share had no fixed point; the smallest share of the cycle was used"})
    payer_rounds = fields.List(fields.Nested(PayerRoundOut), required=True)
    notes = fields.List(fields.String(), required=True, metadata={"description": "the numbers explained, in plain words"})
    cases = fields.List(fields.Nested(RunCaseOut))


class RunList(Schema):
    items = fields.List(fields.Nested(RunOut), required=True)
    next_cursor = fields.String(allow_none=True, metadata={"description": "pass as cursor for the next page; "
                                                                          "null on the last page"})


class RunQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = KeysetCursor(1)


class DeductionCaseOut(RunCaseOut):
    part_fen = fields.Integer(required=True, metadata={"description": "this case's part of what you paid"})


class DeductionOut(Schema):
    run_id = fields.Integer(required=True)
    plan_code = fields.String(required=True)
    status = fields.String(required=True)
    paid_fen = fields.Integer(required=True)
    share_fen = fields.Integer(required=True)
    deducted_at = fields.DateTime(required=True)
    cases = fields.List(fields.Nested(DeductionCaseOut), required=True)


class DeductionList(Schema):
    items = fields.List(fields.Nested(DeductionOut), required=True)


class DeductionQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
