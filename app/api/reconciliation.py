"""Operators: the daily reconciliations with WeChat Pay's bills and their mismatches."""
from __future__ import annotations

import datetime as dt

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.extensions import db
from app.models import RESOLUTION_OUTCOMES
from app.services import bill_resolutions, bills
from app.services.errors import InvalidRequest

from .admin_security import operator_required
from .error_docs import errors
from .schemas import ErrorEnvelope
from .security import BEARER, services

blp = Blueprint("reconciliation", __name__, url_prefix="/api/v1/admin/reconciliations",
                description="Daily reconciliation with WeChat Pay's trade and fund-flow bills")


class MismatchOut(Schema):
    category = fields.String(required=True, metadata={
        "description": "wechat_only | ours_only | amount_differs | state_differs | settled_missed"})
    kind = fields.String(required=True, metadata={"description": "payment | refund | transfer"})
    reference = fields.String(required=True, metadata={"description": "out_trade_no / out_refund_no / out_bill_no"})
    wechat_amount_fen = fields.Integer(allow_none=True)
    our_amount_fen = fields.Integer(allow_none=True)
    our_state = fields.String(allow_none=True)
    id = fields.Integer(metadata={"description": "the mismatch, to resolve it"})
    resolution = fields.Nested("MismatchResolutionOut", allow_none=True, metadata={"description": "null while open"})


class MismatchResolutionOut(Schema):
    id = fields.Integer(required=True)
    outcome = fields.String(required=True, metadata={"description": "corrected | explained | escalated"})
    note = fields.String(required=True, metadata={"description": "why (in the audit chain too)"})
    operator_id = fields.Integer(required=True)
    resolved_at = fields.DateTime(required=True)


class MismatchResolveIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(RESOLUTION_OUTCOMES))
    note = fields.String(required=True, validate=validate.Length(max=bill_resolutions.NOTE_MAX), metadata={
        "description": f"why, {bill_resolutions.NOTE_MIN}–{bill_resolutions.NOTE_MAX} characters"})


class ReconciliationOut(Schema):
    bill_date = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "running | done | refused (hash or format)"})
    lines = fields.Integer(required=True)
    matched = fields.Integer(required=True)
    mismatched = fields.Integer(required=True)
    settled = fields.Integer(required=True, metadata={"description": "paid top-ups we had missed, settled now"})
    trade_sha1 = fields.String(allow_none=True)
    fundflow_sha1 = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    started_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True)
    mismatches = fields.List(fields.Nested(MismatchOut))


class ReconciliationList(Schema):
    items = fields.List(fields.Nested(ReconciliationOut), required=True)


@blp.route("", methods=["GET"])
@operator_required("finance", "auditor")
@blp.response(200, ReconciliationList)
@blp.doc(security=BEARER)
@errors("operator_role_forbidden")
def list_days():
    """The latest 60 days, newest first."""
    return {"items": bills.list_days(db.session)}


@blp.route("/<string:bill_date>", methods=["GET"])
@operator_required("finance", "auditor")
@blp.response(200, ReconciliationOut)
@blp.alt_response(400, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("bill_date_invalid", "reconciliation_not_found", "operator_role_forbidden")
def get_day(bill_date):
    """One day with every line that did not match (open ones first), each with its resolution."""
    rec, lines = bill_resolutions.day_lines(db.session, _bill_date(bill_date))
    body = bills.reconciliation_out(rec, [line.mismatch for line in lines])
    for out, line in zip(body["mismatches"], lines):
        out.update(id=line.mismatch.id, resolution=bill_resolutions.resolution_out(line.resolution))
    return body


def _bill_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest("日期格式应为 YYYY-MM-DD", code="bill_date_invalid") from None


@blp.route("/<string:bill_date>/mismatches/<int:mismatch_id>/resolve", methods=["POST"])
@operator_required("finance")
@blp.arguments(MismatchResolveIn)
@blp.response(200, MismatchResolutionOut)
@blp.alt_response(400, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("bill_date_invalid", "reconciliation_not_found", "mismatch_not_found", "mismatch_already_resolved",
        "outcome_invalid", "note_invalid", "operator_role_forbidden")
def resolve_mismatch(body, bill_date, mismatch_id):
    """Finance: close one mismatch with an outcome and why, once (audited as reconciliation.mismatch_resolved)."""
    resolution = bill_resolutions.resolve(db.session, g.operator, _bill_date(bill_date), mismatch_id,
                                          outcome=body["outcome"], note=body["note"], now=services().clock.now())
    return bill_resolutions.resolution_out(resolution)
