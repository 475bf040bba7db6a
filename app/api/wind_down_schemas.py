"""Schemas of a plan's wind-down (contract: issue 14, "Wind-down")."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .merchant_transfer import MerchantTransferOut


class WindDownProgressOut(Schema):
    members_total = fields.Integer(required=True, metadata={"description": "memberships whose balance is returned"})
    refunded = fields.Integer(required=True, metadata={"description": "returns finished: every fen back"})
    pending = fields.Integer(required=True, metadata={"description": "waiting, or on their way"})
    failed = fields.Integer(required=True, metadata={"description": "a refund or transfer failed; staff retry it"})
    returned_fen = fields.Integer(required=True)
    remaining_fen = fields.Integer(required=True)


class WindDownOut(Schema):
    plan_code = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["announced", "final_run", "refunding", "closed"]))
    closing_date = fields.Date(required=True)
    announced_at = fields.DateTime(required=True)
    joins_open = fields.Boolean(required=True, metadata={"description": "always false"})
    claims_text = fields.String(required=True, metadata={"description": "which incidents may still be claimed"})
    progress = fields.Nested(WindDownProgressOut, required=True)
    surplus_rule_text = fields.String(required=True)
    surplus_fen = fields.Integer(required=True, metadata={"description": "the plan's surplus shared (0 before refunding)"})
    closing_report_url = fields.String(allow_none=True, required=True)
    closing_report_sha256 = fields.String(allow_none=True)
    notes = fields.List(fields.String(), required=True)


class BalanceReturnOut(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(["wind_down", "leave", "aided"]))
    status = fields.String(required=True, validate=validate.OneOf(["pending", "returning", "done", "failed"]))
    status_text = fields.String(required=True)
    amount_fen = fields.Integer(required=True, metadata={"description": "balance + share of the plan's surplus"})
    returned_fen = fields.Integer(required=True)
    by_refund_fen = fields.Integer(required=True, metadata={"description": "to the original payments (within a year)"})
    by_transfer_fen = fields.Integer(required=True,
                                     metadata={"description": "money paid over a year ago: merchant transfer to the payer"})
    surplus_fen = fields.Integer(required=True)
    transfer_package_info = fields.String(allow_none=True, metadata={
        "description": "a transfer waiting for the payer: pass to wx.requestMerchantTransfer to confirm receipt"})
    transfer = fields.Nested(MerchantTransferOut, allow_none=True, metadata={
        "description": "wx.requestMerchantTransfer's mchId, appId and package while a transfer waits for the payer"})


class ClosingReportOut(Schema):
    sha256 = fields.String(required=True)
    verified = fields.Boolean(required=True, metadata={"description": "the stored body hashes to sha256"})
    report = fields.Dict(required=True)
