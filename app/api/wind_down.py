"""A closing plan, for members and the public: its wind-down (dates, what may still be claimed, the
returns' progress, the surplus rule) and, once closed, its closing report."""
from __future__ import annotations

from flask_smorest import Blueprint

from app.extensions import db
from app.services import wind_down as service
from app.services.errors import NotFound

from .error_docs import errors
from .schemas import ErrorEnvelope
from .wind_down_schemas import ClosingReportOut, WindDownOut

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
