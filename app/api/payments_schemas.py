"""Schemas of top-ups, sponsors, leaving and the member's statement."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .schemas import MembershipOut


class TopupIn(Schema):
    amount_fen = fields.Integer(required=True, strict=True, validate=validate.Range(min=1),
                                metadata={"description": "fen; the plan's minimum prepay for a first top-up"})


class SponsorLinkIn(Schema):
    token = fields.String(required=True, validate=[validate.Length(min=1, max=64),
                                                   validate.Regexp(r"^[A-Za-z0-9_-]+$")],
                          metadata={"description": "the membership's sponsor_token (from the share link)"})


class SponsorTopupIn(TopupIn, SponsorLinkIn):
    pass


class OrderOut(Schema):
    id = fields.Integer(required=True)
    out_trade_no = fields.String(required=True)
    membership_id = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "created | paying | paid | closed"})
    sponsored = fields.Boolean(required=True, metadata={"description": "paid by someone other than the member's payer"})
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    paid_at = fields.DateTime(allow_none=True)


class PaymentParamsOut(Schema):
    """Pass as is to wx.requestPayment."""

    timeStamp = fields.String(required=True)
    nonceStr = fields.String(required=True)
    package = fields.String(required=True)
    signType = fields.String(required=True)
    paySign = fields.String(required=True)


class TopupOut(Schema):
    order = fields.Nested(OrderOut, required=True)
    payment = fields.Nested(PaymentParamsOut, required=True)


class SponsorViewOut(Schema):
    person_name = fields.String(required=True, metadata={"description": "masked: 张*"})
    plan_code = fields.String(required=True)
    plan_name = fields.String(required=True)
    state = fields.String(required=True)
    balance_fen = fields.Integer(required=True)
    min_prepay_fen = fields.Integer(required=True)
    is_own = fields.Boolean(required=True, metadata={"description": "the logged-in user is the member's payer"})


class RefundOut(Schema):
    id = fields.Integer(required=True)
    out_refund_no = fields.String(required=True)
    order_id = fields.Integer(required=True)
    amount_fen = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "pending | succeeded | failed"})
    created_at = fields.DateTime(required=True)
    completed_at = fields.DateTime(allow_none=True)


class RefundList(Schema):
    items = fields.List(fields.Nested(RefundOut), required=True)


class LeaveOut(Schema):
    membership = fields.Nested(MembershipOut, required=True)
    refunded_fen = fields.Integer(required=True, metadata={"description": "moved to refunds by this call"})
    withheld_fen = fields.Integer(required=True, metadata={
        "description": "the share of an open apportionment run you were counted in, kept for that run"})
    withheld_run_id = fields.Integer(allow_none=True)
    message = fields.String(required=True, metadata={"description": "what happened to the balance, in plain words"})
    refunds = fields.List(fields.Nested(RefundOut), required=True)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class MovementOut(Schema):
    transaction_id = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    amount_fen = fields.Integer(required=True, metadata={"description": "+ into the balance, − out of it"})
    reason = fields.String(required=True, metadata={"description": "topup | leave | deduction | ..."})
    reference_type = fields.String(allow_none=True, metadata={"description": "order | refund | run | membership"})
    reference_id = fields.String(allow_none=True)
    sponsored = fields.Boolean(required=True)
    description = fields.String(required=True, metadata={"description": "the movement in plain words"})


class LedgerPage(Schema):
    items = fields.List(fields.Nested(MovementOut), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
