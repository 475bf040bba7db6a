"""A closing plan, for members and the public: its wind-down (dates, what may still be claimed, the
returns' progress, the surplus rule) and, once closed, its closing report."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.extensions import db
from app.services import wind_down as service
from app.services.errors import NotFound

from .admin_security import operator_required
from .error_docs import errors
from .merchant_transfer import with_return_transfer
from .schemas import ErrorEnvelope
from .security import BEARER, member_required, services
from .wind_down_schemas import BalanceReturnOut, ClosingReportOut, WindDownOut, WindDownProgressOut

blp = Blueprint("wind_down", __name__, url_prefix="/api/v1", description="A plan closing: wind-down and returns")


@blp.route("/plans/<string:code>/wind-down", methods=["GET"])
@blp.response(200, WindDownOut)
@blp.alt_response(404, schema=ErrorEnvelope, description="no such plan, or the plan is not closing")
@errors("plan_not_found", "not_found")
def get_wind_down(code):
    """The plan's wind-down: closing date, which incidents may still be claimed, the returns' progress
    (done / pending / failed, fen returned and remaining), the surplus rule, the closing report's link."""
    view = service.public_view(db.session, code)
    if view is None:
        raise NotFound("这个互助计划没有在停止运行", code="not_found")
    return view


@blp.route("/plans/<string:code>/wind-down/report", methods=["GET"])
@blp.response(200, ClosingReportOut)
@blp.alt_response(404, schema=ErrorEnvelope, description="no such plan, or no closing report yet")
@errors("plan_not_found", "not_found")
def get_closing_report(code):
    """The closing report, published when the last fen is returned; hashed and chained like a monthly report."""
    return service.closing_report_of(db.session, code)


# --- operators (the console has the same actions as pages) -------------------------------------------

class ProposeIn(Schema):
    closing_date = fields.Date(required=True, metadata={"description": "the last day incidents are covered"})


class OperatorWindDownOut(Schema):
    plan_code = fields.String(required=True)
    status = fields.String(required=True)
    closing_date = fields.Date(required=True)
    proposed_by_operator_id = fields.Integer(required=True)
    confirmed_by_operator_id = fields.Integer(allow_none=True)
    pipeline = fields.Dict(required=True, metadata={"description": "open claims, runs and payouts still to finish"})
    progress = fields.Nested(WindDownProgressOut, required=True)


def _operator_view(code: str) -> dict:
    plan, found = service.for_plan(db.session, code)
    if found is None:
        raise NotFound("这个计划没有停止计划", code="not_found")
    return {"plan_code": plan.code, "status": found.status, "closing_date": found.closing_date,
            "proposed_by_operator_id": found.proposed_by_operator_id,
            "confirmed_by_operator_id": found.confirmed_by_operator_id,
            "pipeline": service.pipeline_open(db.session, plan.id), "progress": vars(service.progress(db.session, plan.id))}


@blp.route("/admin/plans/<string:code>/wind-down", methods=["POST"])
@operator_required("reviewer", "finance")
@blp.arguments(ProposeIn)
@blp.response(201, OperatorWindDownOut)
@blp.alt_response(400, schema=ErrorEnvelope, description="the closing date is in the past")
@blp.alt_response(409, schema=ErrorEnvelope, description="the plan is already closing")
@blp.doc(security=BEARER)
@errors("plan_not_found", "closing_date_invalid", "wind_down_exists", "operator_role_forbidden")
def propose(body, code):
    """Propose closing the plan on a date; finance (another operator) confirms it."""
    service.propose(db.session, g.operator, code, body["closing_date"], services().clock.now())
    return _operator_view(code)


@blp.route("/admin/plans/<string:code>/wind-down/confirm", methods=["POST"])
@operator_required("finance")
@blp.response(200, OperatorWindDownOut)
@blp.alt_response(403, schema=ErrorEnvelope, description="the proposer cannot confirm")
@blp.alt_response(409, schema=ErrorEnvelope, description="nothing to confirm")
@blp.doc(security=BEARER)
@errors("plan_not_found", "not_found", "closing_date_invalid", "wind_down_not_proposed", "separation_of_duties",
        "operator_role_forbidden")
def confirm(code):
    """Finance confirms: from now on no joins, and no claims for incidents after the closing date."""
    service.confirm(db.session, g.operator, code, services().clock.now())
    return _operator_view(code)


@blp.route("/admin/plans/<string:code>/wind-down", methods=["GET"])
@operator_required()
@blp.response(200, OperatorWindDownOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("plan_not_found", "not_found")
def operator_view(code):
    """Where the wind-down stands: status, what the pipeline still holds, the returns' progress."""
    return _operator_view(code)


@blp.route("/memberships/<int:membership_id>/balance-return/confirmed", methods=["POST"])
@member_required
@blp.response(200, BalanceReturnOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("membership_not_found", "not_found", "transfer_mismatch")
def balance_return_confirmed(membership_id):
    """The mini-program calls this after wx.requestMerchantTransfer succeeds for a balance return's
    transfer (`balance_return.transfer_package_info`): we ask WeChat and record the money as returned."""
    from app.services import balance_returns, memberships

    memberships.get_for_user(db.session, g.user_id, membership_id)
    container = services()
    if not balance_returns.sync_for_membership(db.session, container.pay, membership_id, container.clock.now()):
        raise NotFound("这份互助没有退回中的余额", code="not_found")
    return with_return_transfer(balance_returns.view_for(db.session, membership_id))
