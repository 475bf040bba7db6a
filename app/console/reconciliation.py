"""Money · daily reconciliation with WeChat Pay's bills: the days with their counts and open
mismatches, a day's mismatches, and finance resolving one (outcome and why; audited)."""
from __future__ import annotations

import datetime as dt

from flask import abort, flash, g, redirect, render_template, url_for
from sqlalchemy import select

from app.extensions import db
from app.models import BillReconciliation, RESOLUTION_OUTCOMES
from app.services import bill_resolutions, console_queries as queries
from app.services.errors import ServiceError

from .blueprint import bp, now, role_required
from .common import MONEY_ROLES, page_number
from .forms import ResolveMismatchForm

STATUS_WORDS = {"running": "对账中", "done": "已完成", "refused": "未能对账"}


def _day(bill_date: str) -> dt.date:
    try:
        return dt.date.fromisoformat(bill_date)
    except ValueError:
        abort(404)


def _resolve_form() -> ResolveMismatchForm:
    form = ResolveMismatchForm()
    form.outcome.choices = [(o, bill_resolutions.OUTCOME_WORDS[o]) for o in RESOLUTION_OUTCOMES]
    return form


@bp.route("/money/reconciliation")
@role_required(*MONEY_ROLES)
def reconciliation_days():
    page = queries.paginate(db.session, select(BillReconciliation).order_by(BillReconciliation.bill_date.desc()),
                            page_number())
    return render_template("console/reconciliation.html", page=page, status_words=STATUS_WORDS,
                           open_counts=bill_resolutions.open_counts(db.session, [r.id for r in page.items]))


def _render_day(day: dt.date, form: ResolveMismatchForm | None = None, failed_id: int | None = None):
    rec, lines = bill_resolutions.day_lines(db.session, day)
    return render_template("console/reconciliation_day.html", rec=rec, lines=lines, status_words=STATUS_WORDS,
                           form=form or _resolve_form(), failed_id=failed_id,
                           names=queries.operator_names(db.session), outcome_words=bill_resolutions.OUTCOME_WORDS,
                           category_words=bill_resolutions.CATEGORY_WORDS, kind_words=bill_resolutions.KIND_WORDS)


@bp.route("/money/reconciliation/<string:bill_date>")
@role_required(*MONEY_ROLES)
def reconciliation_day(bill_date):
    return _render_day(_day(bill_date))


@bp.route("/money/reconciliation/<string:bill_date>/mismatches/<int:mismatch_id>/resolve", methods=["POST"])
@role_required("finance")
def resolve_mismatch(bill_date, mismatch_id):
    day = _day(bill_date)
    form = _resolve_form()
    if not form.validate():
        return _render_day(day, form, failed_id=mismatch_id), 400
    try:
        bill_resolutions.resolve(db.session, g.operator, day, mismatch_id, outcome=form.outcome.data,
                                 note=form.note.data, now=now())
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash("差异已处理，已记入审计日志", "success")
    return redirect(url_for("console.reconciliation_day", bill_date=day.isoformat()))
