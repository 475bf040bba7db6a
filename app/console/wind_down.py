"""Console pages of a plan's wind-down: start (a reviewer or finance proposes a closing date), confirm
(finance, another person, confirms), progress (done / pending / failed and the money returned; finance
retries what failed). Routes on the console blueprint; the same services as the admin API."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import DataRequired

from app.extensions import db
from app.services import plans as plan_service
from app.services import wind_down
from app.services.errors import ServiceError

from .blueprint import bp, now, role_required, services
from .forms import ActionForm

STATUS_WORDS = {"proposed": "待财务确认", "announced": "已公告（停止日期前）", "final_run": "办结在途案件、最后一期分摊",
                "refunding": "退回余额中", "closed": "已停止，报告已发布"}
VIEW_ROLES = ("reviewer", "finance", "auditor")


class ProposeForm(FlaskForm):
    plan_code = SelectField("互助计划", validators=[DataRequired(message="请选择计划")])
    closing_date = DateField("停止日期（此日之后发生的事件不再受理）",
                             validators=[DataRequired(message="请填写停止日期（YYYY-MM-DD）")])


def _plans() -> list[tuple[str, str]]:
    return [(p.code, v.rules["name"]) for p, v in plan_service.list_plans(db.session)]


@bp.route("/wind-down", methods=["GET", "POST"])
@role_required(*VIEW_ROLES)
def wind_down_start():
    form = ProposeForm()
    form.plan_code.choices = _plans()
    if form.validate_on_submit():
        try:
            wind_down.propose(db.session, g.operator, form.plan_code.data, form.closing_date.data, now())
            flash("已提出停止计划，等待另一位财务人员确认", "success")
            return redirect(url_for("console.wind_down_confirm", code=form.plan_code.data))
        except ServiceError as exc:
            flash(exc.message, "error")
    rows = []
    for code, name in _plans():
        _, found = wind_down.for_plan(db.session, code)
        rows.append({"code": code, "name": name, "status": found.status if found else None,
                     "closing_date": found.closing_date if found else None})
    return render_template("wind_down/start.html", form=form, rows=rows, status_words=STATUS_WORDS)


@bp.route("/wind-down/<string:code>/confirm", methods=["GET", "POST"])
@role_required(*VIEW_ROLES)
def wind_down_confirm(code):
    plan, found = wind_down.for_plan(db.session, code)
    form = ActionForm()
    if found is None:
        return redirect(url_for("console.wind_down_start"))
    if form.validate_on_submit():
        if "finance" not in g.operator.role_set:
            flash("只有财务人员可以确认停止计划", "error")
        else:
            try:
                wind_down.confirm(db.session, g.operator, code, now())
                flash("已确认：计划停止加入，停止日期之后的事件不再受理", "success")
                return redirect(url_for("console.wind_down_progress", code=code))
            except ServiceError as exc:
                flash(exc.message, "error")
        _, found = wind_down.for_plan(db.session, code)
    return render_template("wind_down/confirm.html", plan=plan, found=found, form=form, status_words=STATUS_WORDS,
                           can_confirm=("finance" in g.operator.role_set
                                        and g.operator.id != found.proposed_by_operator_id))


@bp.route("/wind-down/<string:code>/progress", methods=["GET"])
@role_required(*VIEW_ROLES)
def wind_down_progress(code):
    plan, found = wind_down.for_plan(db.session, code)
    if found is None:
        return redirect(url_for("console.wind_down_start"))
    return render_template("wind_down/progress.html", plan=plan, found=found, status_words=STATUS_WORDS,
                           progress=wind_down.progress(db.session, plan.id),
                           pipeline=wind_down.pipeline_open(db.session, plan.id),
                           failed=wind_down.failed_items(db.session, plan.id), form=ActionForm())


@bp.route("/wind-down/<string:code>/retry", methods=["POST"])
@role_required("finance")
def wind_down_retry(code):
    if ActionForm().validate_on_submit():
        try:
            count = wind_down.retry_failed(db.session, services().pay, g.operator, code, now())
            flash(f"已重新发起 {count} 笔失败的退款或转账", "success")
        except ServiceError as exc:
            flash(exc.message, "error")
    return redirect(url_for("console.wind_down_progress", code=code))
