"""The notifications outbox and the operator audit log (filterable, exportable as CSV)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

from flask import Response, render_template, request, stream_with_context

from app.extensions import db
from app.services import console_queries as queries, delivery

from .blueprint import CHINA, bp, now, role_required
from .common import ALL_ROLES, AUDIT_ROLES, page_number


@bp.route("/notifications")
@role_required(*ALL_ROLES)
def notifications():
    return render_template("console/notifications.html", report=delivery.status(db.session, now(), errors=50))


def _audit_filter() -> queries.AuditFilter:
    def day(name):
        try:
            return dt.datetime.fromisoformat(request.args[name]).replace(tzinfo=CHINA)  # operators' days
        except (KeyError, ValueError):
            return None

    until = day("until")
    return queries.AuditFilter(
        action=request.args.get("action") or None, operator_id=request.args.get("operator_id", type=int),
        target_type=request.args.get("target_type") or None, target_id=request.args.get("target_id", type=int),
        since=day("since"), until=until + dt.timedelta(days=1) if until else None)


@bp.route("/audit")
@role_required(*AUDIT_ROLES)
def audit():
    page = queries.audit_page(db.session, _audit_filter(), page=page_number())
    return render_template("console/audit.html", page=page, names=queries.operator_names(db.session))


@bp.route("/audit.csv")
@role_required(*AUDIT_ROLES)
def audit_csv():
    names = queries.operator_names(db.session)
    audit_filter = _audit_filter()

    def rows():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "created_at", "operator_id", "operator", "action", "target_type", "target_id",
                         "before", "after"])
        for e in queries.audit_rows(db.session, audit_filter):
            writer.writerow([e.id, e.created_at.isoformat(), e.operator_id or "", names.get(e.operator_id, ""),
                             e.action, e.target_type, e.target_id or "",
                             json.dumps(e.before, ensure_ascii=False), json.dumps(e.after, ensure_ascii=False)])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()

    stamp = now().strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=audit-{stamp}.csv"})
