"""Money · financial reports: a plan's month (live while it runs, frozen and hashed once over) or any
date range, with the custody identity's two sides, the runs, and the charts as a server-rendered
image (a data: URI, which the console's CSP allows); CSV of the same report."""
from __future__ import annotations

import base64
import csv
import datetime as dt
import io

from flask import Response, abort, flash, render_template, request

from app.extensions import db
from app.services import console_queries as queries, reports
from app.services.clock import CHINA_TZ
from app.services.errors import ServiceError

from .blueprint import bp, now, role_required
from .common import MONEY_ROLES


def _china_day(name: str) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(request.args.get(name) or "")
    except ValueError:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)


def _entry(plan_code: str) -> dict:
    """The month asked for (default: this month, China time), or the range [from, to] of whole days."""
    start, last = _china_day("from"), _china_day("to")
    if start and last:
        body = reports.compute(db.session, plan_code, start, last + dt.timedelta(days=1))
        return {"period": None, "frozen": False, "sha256": None, "report": body}
    period = request.args.get("period") or now().astimezone(CHINA_TZ).strftime("%Y-%m")
    return reports.monthly(db.session, plan_code, period, now())


def _plan_code() -> tuple[str, list]:
    all_plans = queries.plans(db.session)
    if not all_plans:
        abort(404)
    code = request.args.get("plan")
    return (code if any(p.code == code for p in all_plans) else all_plans[0].code), all_plans


@bp.route("/money/reports")
@role_required(*MONEY_ROLES)
def financial_reports():
    code, all_plans = _plan_code()
    try:
        entry = _entry(code)
    except ServiceError as exc:
        flash(exc.message, "error")
        entry = reports.monthly(db.session, code, now().astimezone(CHINA_TZ).strftime("%Y-%m"), now())
    history = entry["report"]["history"]
    from app.services import report_pdf  # matplotlib: loaded by the first chart, not by every worker start

    chart = ("data:image/png;base64," + base64.b64encode(report_pdf.charts_png(history)).decode()) if history else None
    return render_template("console/reports.html", entry=entry, report=entry["report"], plans=all_plans, plan_code=code,
                           frozen=reports.frozen_list(db.session, code), chart=chart)


@bp.route("/money/reports.csv")
@role_required(*MONEY_ROLES)
def financial_report_csv():
    code, _ = _plan_code()
    entry = _entry(code)
    out = io.StringIO()
    csv.writer(out).writerows(reports.csv_lines(entry["report"]))
    name = f"{code}-{entry['period'] or 'range'}.csv"
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={name}"})
