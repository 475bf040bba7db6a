"""Operators: the daily reconciliations with WeChat Pay's bills and their mismatches."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.extensions import db
from app.services import bills

from .admin_security import operator_required
from .error_docs import errors
from .schemas import ErrorEnvelope
from .security import BEARER

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
    """One day with every line that did not match."""
    import datetime as dt

    from app.services.errors import InvalidRequest

    try:
        day = dt.date.fromisoformat(bill_date)
    except ValueError:
        raise InvalidRequest("日期格式应为 YYYY-MM-DD", code="bill_date_invalid") from None
    return bills.get_day(db.session, day)
