"""Financial reports: a plan's months (public, anonymised: aggregates only) as JSON, CSV and PDF;
any date range for operators."""
from __future__ import annotations

import csv
import io

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.extensions import db
from app.services import reports

from .admin_security import operator_required
from .error_docs import errors
from .schemas import ErrorEnvelope
from .security import BEARER, services

blp = Blueprint("reports", __name__, url_prefix="/api/v1",
                description="Financial reports computed from the ledger; closed months frozen and hashed")


class FrozenReportOut(Schema):
    period = fields.String(required=True)
    sha256 = fields.String(required=True)
    frozen_at = fields.DateTime(required=True)


class FrozenReportList(Schema):
    items = fields.List(fields.Nested(FrozenReportOut), required=True)


class ReportEntryOut(Schema):
    period = fields.String(required=True, metadata={"description": "YYYY-MM, China time"})
    frozen = fields.Boolean(required=True, metadata={"description": "the month is over: stored, hashed, chained"})
    sha256 = fields.String(required=True, allow_none=True, metadata={
        "description": "SHA-256 of the canonical JSON of `report` (sorted keys, no spaces, UTF-8)"})
    report = fields.Dict(required=True, metadata={
        "description": "opening/closing balances, flows, custody (both sides), runs, history; all fen"})


class RangeQuery(Schema):
    plan = fields.String(required=True)
    start = fields.AwareDateTime(required=True, data_key="from")
    end = fields.AwareDateTime(required=True, data_key="to")
    format = fields.String(load_default="json", metadata={"description": "json | csv"})


def _csv(report: dict, filename: str) -> Response:
    out = io.StringIO()
    csv.writer(out).writerows(reports.csv_lines(report))
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _monthly(code: str, period: str) -> dict:
    return reports.monthly(db.session, code, period, services().clock.now())


@blp.route("/plans/<string:code>/reports", methods=["GET"])
@blp.response(200, FrozenReportList)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("plan_not_found")
def list_reports(code):
    """The plan's frozen monthly reports and their hashes (each also in the plan's chain)."""
    return {"items": reports.frozen_list(db.session, code)}


@blp.route("/plans/<string:code>/reports/<string:period>", methods=["GET"])
@blp.response(200, ReportEntryOut)
@blp.alt_response(400, schema=ErrorEnvelope, description="period is not YYYY-MM")
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("plan_not_found", "period_invalid", "period_open")
def get_report(code, period):
    """A month's report (China time): live while the month runs, frozen once it is over."""
    return _monthly(code, period)


@blp.route("/plans/<string:code>/reports/<string:period>/csv", methods=["GET"])
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(responses={"200": {"description": "CSV: section,item,value then the runs", "content": {"text/csv": {}}}})
@errors("plan_not_found", "period_invalid", "period_open")
def get_report_csv(code, period):
    return _csv(_monthly(code, period)["report"], f"{code}-{period}.csv")


@blp.route("/plans/<string:code>/reports/<string:period>/pdf", methods=["GET"])
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(responses={"200": {"description": "PDF with charts", "content": {"application/pdf": {}}}})
@errors("plan_not_found", "period_invalid", "period_open")
def get_report_pdf(code, period):
    from app.services import report_pdf  # matplotlib and ReportLab: loaded by the first PDF, not by every worker start

    pdf = report_pdf.render(_monthly(code, period))
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{code}-{period}.pdf"'})


@blp.route("/admin/reports", methods=["GET"])
@operator_required("finance", "auditor")
@blp.arguments(RangeQuery, location="query")
@blp.response(200, ReportEntryOut)
@blp.alt_response(400, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("plan_not_found", "range_invalid", "operator_role_forbidden")
def range_report(query):
    """Operators: any date range [from, to), computed now from the ledger (never frozen)."""
    body = reports.compute(db.session, query["plan"], query["start"], query["end"])
    if query["format"] == "csv":
        return _csv(body, f"{query['plan']}-range.csv")
    return {"period": f"{body['from']}/{body['to']}", "frozen": False, "sha256": None, "report": body}
