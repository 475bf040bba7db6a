"""Rule-change proposals (docs/rule-changes.md): the list with tallies, a proposal with its
differences, quorum, live tally and audit trail, and the actions: put the changed catalogue to the
members (open), decide a proposal whose window has ended (close), bring a passed one into force on
its effective date. Finance acts; every role reads. The same service functions as the CLI."""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, url_for

from app.extensions import db
from app.models import OperatorAuditEntry, Plan
from app.services import rule_changes
from app.services.errors import ServiceError
from app.services.plans import load_catalogue

from .blueprint import bp, now, role_required
from .common import ALL_ROLES, AUDIT_ROLES, plan_filter
from .forms import ActionForm

STATUS_WORDS = {"open": "征求意见中", "passed": "已通过，待生效", "failed": "未通过", "in_force": "已生效", "withdrawn": "已撤回（计划停止）"}
ACTING_ROLES = ("finance",)


@bp.route("/proposals")
@role_required(*ALL_ROLES)
def proposals():
    plan_id, all_plans = plan_filter()
    items = rule_changes.all_proposals(db.session, plan_id=plan_id)
    rows = [(p, rule_changes.tally_of(db.session, p)) for p in items]
    return render_template("proposals/list.html", rows=rows, plans=all_plans, words=STATUS_WORDS,
                           plan_names={p.id: p.name for p in all_plans}, action=ActionForm())


@bp.route("/proposals/<int:proposal_id>")
@role_required(*ALL_ROLES)
def proposal(proposal_id):
    found = rule_changes.get_proposal(db.session, proposal_id)
    plan = db.session.get(Plan, found.plan_id)
    details = rule_changes.describe(db.session, found, plan.code)
    trail = None
    if g.operator.role_set & set(AUDIT_ROLES):
        trail = db.session.execute(db.select(OperatorAuditEntry).where(
            OperatorAuditEntry.target_type == rule_changes.TARGET, OperatorAuditEntry.target_id == found.id)
            .order_by(OperatorAuditEntry.id)).scalars().all()
    current = now()
    return render_template(
        "proposals/proposal.html", proposal=found, plan=plan, details=details, words=STATUS_WORDS, trail=trail,
        action=ActionForm(), can_act=bool(g.operator.role_set & set(ACTING_ROLES)),
        window_over=current >= found.window_closes_at, effective=current >= found.effective_at)


@bp.route("/proposals/open", methods=["POST"])
@role_required(*ACTING_ROLES)
def open_proposals():
    """Load the configured catalogue as `flask plans load` does: each changed plan becomes a proposal."""
    if not ActionForm().validate():
        flash("表单已过期，请重试", "error")
        return redirect(url_for("console.proposals"))
    try:
        settings = rule_changes.ProposalSettings.from_config(current_app.config, operator_id=g.operator.id)
        result = load_catalogue(db.session, current_app.config["PLANS_FILE"], now(), settings)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("console.proposals"))
    notes = result.proposals + result.waiting + [f"{code}: 没有在保会员，新规则直接生效" for code in result.new_versions]
    flash("；".join(notes) if notes else "规则目录没有变化，没有新的提案", "success")
    return redirect(url_for("console.proposals"))


@bp.route("/proposals/<int:proposal_id>/close", methods=["POST"])
@role_required(*ACTING_ROLES)
def close_proposal(proposal_id):
    return _act(proposal_id, "表决结果已确定", rule_changes.close)


@bp.route("/proposals/<int:proposal_id>/in-force", methods=["POST"])
@role_required(*ACTING_ROLES)
def proposal_in_force(proposal_id):
    return _act(proposal_id, "新规则已生效，全部在保会员已适用新版本", rule_changes.bring_into_force)


def _act(proposal_id: int, done: str, call):
    if not ActionForm().validate():
        flash("表单已过期，请重试", "error")
    else:
        try:
            call(db.session, proposal_id, now(), operator_id=g.operator.id)
            flash(done, "success")
        except ServiceError as exc:
            flash(exc.message, "error")
    return redirect(url_for("console.proposal", proposal_id=proposal_id))
