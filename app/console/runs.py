"""Apportionment runs: the list, a run's preview numbers and cases, publish / cancel, and execution
a chunk per request with the progress bar the page's script moves."""
from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, url_for

from app.extensions import db
from app.models import ApportionmentRun, Plan
from app.services import apportionment, console_queries as queries, transparency
from app.services.errors import ServiceError

from .blueprint import bp, now, role_required
from .common import ALL_ROLES, page_number, plan_filter
from .forms import ActionForm, PrepareRunForm

VERIFICATION_WORDS = {"verified": "核验一致", "mismatch": "核验不一致", "unrecorded": "未上链"}
RUN_STATUS_WORDS = {"prepared": "已准备", "published": "已公布", "executing": "执行中", "executed": "已完成",
                    "cancelled": "已取消"}


def _progress(run: ApportionmentRun) -> dict:
    return {"run_id": run.id, "status": run.status, "status_word": RUN_STATUS_WORDS[run.status],
            **apportionment.progress(db.session, run), "payer_count": run.payer_count}


@bp.route("/runs")
@role_required(*ALL_ROLES)
def runs():
    plan_id, all_plans = plan_filter()
    page = queries.runs_page(db.session, plan_id=plan_id, page=page_number())
    form = PrepareRunForm()
    form.plan_code.choices = [(p.code, p.name) for p in all_plans]
    return render_template("console/runs.html", page=page, plans=all_plans, form=form,
                           plan_codes={p.id: p.code for p in all_plans}, run_words=RUN_STATUS_WORDS,
                           records=transparency.run_records(db.session, [r.id for r in page.items]))


@bp.route("/runs/prepare", methods=["POST"])
@role_required("finance")
def prepare_run():
    form = PrepareRunForm()
    form.plan_code.choices = [(p.code, p.name) for p in queries.plans(db.session)]
    if not form.validate():
        flash("请选择互助计划", "error")
        return redirect(url_for("console.runs"))
    try:
        run = apportionment.prepare(db.session, form.plan_code.data, now(),
                                    chunk_size=current_app.config["APPORTIONMENT_CHUNK_SIZE"])
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("console.runs"))
    flash("分摊已准备，请核对预览数字后公布", "success")
    return redirect(url_for("console.run", run_id=run.id))


@bp.route("/runs/<int:run_id>")
@role_required(*ALL_ROLES)
def run(run_id):
    found = apportionment.get_run(db.session, run_id)
    plan = db.session.get(Plan, found.plan_id)
    details = apportionment.run_view(db.session, found, plan.code)
    cases = apportionment.run_cases(db.session, run_id)
    verification, record, problem = (transparency.run_verification(db.session, run_id)
                                     if found.status == "executed" else (None, None, None))
    return render_template("console/run.html", run=found, plan=plan, details=details, cases=cases,
                           progress=_progress(found), action=ActionForm(), run_words=RUN_STATUS_WORDS,
                           verification=verification, record=record, problem=problem,
                           verification_words=VERIFICATION_WORDS)


@bp.route("/runs/<int:run_id>/publish", methods=["POST"])
@role_required("finance")
def publish_run(run_id):
    return _run_act(run_id, "分摊已公布，会员可以看到本期分摊", apportionment.publish)


@bp.route("/runs/<int:run_id>/cancel", methods=["POST"])
@role_required("finance")
def cancel_run(run_id):
    return _run_act(run_id, "分摊已取消", apportionment.cancel)


def _run_act(run_id: int, done: str, service_call):
    try:
        service_call(db.session, run_id, now())
        flash(done, "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("console.run", run_id=run_id))


@bp.route("/runs/<int:run_id>/progress")
@role_required(*ALL_ROLES)
def run_progress(run_id):
    return jsonify(_progress(apportionment.get_run(db.session, run_id)))


@bp.route("/runs/<int:run_id>/execute-chunk", methods=["POST"])
@role_required("finance")
def execute_chunk(run_id):
    """One chunk per request (resumable, each chunk its own transaction); the page's script calls it
    until the run is executed, moving the progress bar after each."""
    try:
        found = apportionment.execute(db.session, run_id, now(), grace_days=current_app.config["SUSPENSION_GRACE_DAYS"],
                                      max_chunks=1)
    except ServiceError as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message}}), 409
    return jsonify(_progress(found))


