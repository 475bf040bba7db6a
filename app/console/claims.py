"""The home screen with the role's work queues, the claim lists and one claim's page with every
action the role may take (the claim services the admin API calls)."""
from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from app.api.claims import send_document
from app.extensions import db
from app.models import Claim, Membership, Plan
from app.services import (claim_documents, claims as claim_service, console_queries as queries, identity_reveal,
                          operators, payouts)
from app.services.claims import STATUS_WORDS
from app.services.errors import NotFound, ServiceError

from .blueprint import bp, now, role_required, services
from .common import AUDIT_ROLES, page_number, plan_filter
from .forms import ActionForm, AssignForm, RejectForm, ReportForm, ResolveForm, ReturnForm, RevealForm, yuan_to_fen

QUEUE_TITLES = {"review": "待审核", "investigate": "待调查", "objections": "公示异议待处理", "payout": "待发放"}


# ---- home and queues ------------------------------------------------------------------------------

@bp.route("/")
def home():
    counts = queries.queue_counts(db.session, g.operator)
    return render_template("console/home.html", counts=counts, titles=QUEUE_TITLES)


@bp.route("/queues/<string:queue>")
def queue(queue):
    if queue not in queries.QUEUES:
        abort(404)
    if queue not in queries.queues_for(g.operator):
        abort(403)
    plan_id, all_plans = plan_filter()
    page = queries.queue_page(db.session, g.operator, queue, plan_id=plan_id, page=page_number())
    return render_template("console/claims.html", title=QUEUE_TITLES[queue], page=page, plans=all_plans,
                           **_claim_rows(page.items))


@bp.route("/claims")
def claims():
    plan_id, all_plans = plan_filter()
    status = request.args.get("status") if request.args.get("status") in STATUS_WORDS else None
    page = queries.claims_page(db.session, g.operator, status=status, plan_id=plan_id, page=page_number())
    return render_template("console/claims.html", title="全部案件", page=page, plans=all_plans, statuses=STATUS_WORDS,
                           **_claim_rows(page.items))


def _claim_rows(items: list[Claim]) -> dict:
    masked = {m.id: m for m in db.session.query(Membership).filter(
        Membership.id.in_([c.membership_id for c in items]))} if items else {}
    plan_codes = {p.id: p.code for p in queries.plans(db.session)}
    return {"masked": masked, "plan_codes": plan_codes, "status_words": STATUS_WORDS}


# ---- one claim ------------------------------------------------------------------------------------

def _claim_context(claim: Claim, **forms) -> dict:
    role_set = g.operator.role_set
    rules = claim_service.claim_rules(db.session, claim)
    orgs = operators.list_organisations(db.session)
    assign = forms.get("assign") or AssignForm()
    assign.organisation_id.choices = [(o.id, o.name) for o in orgs]
    report = forms.get("report") or ReportForm()
    report.aid_item_code.choices = [(i["code"], i["name"]) for i in rules["aid_table"]]
    objections = claim_service.objections(db.session, claim.id)
    return {
        "claim": claim, "membership": db.session.get(Membership, claim.membership_id),
        "plan": db.session.get(Plan, claim.plan_id), "status_words": STATUS_WORDS, "rules": rules,
        "timeline": claim_service.timeline(db.session, claim.id),
        "documents": claim_service.documents(db.session, claim.id),
        "can_view_documents": bool(role_set & {"reviewer", "investigator"}),
        "objections": objections, "transfer": payouts.for_claim(db.session, claim.id),
        "audit": (operators.audit_entries(db.session, claim_id=claim.id) if role_set & set(AUDIT_ROLES) else None),
        "operator_names": queries.operator_names(db.session),
        "organisations": {o.id: o.name for o in orgs},
        "action": ActionForm(), "return_form": forms.get("return_form") or ReturnForm(), "assign": assign,
        "reject": forms.get("reject") or RejectForm(), "report": report,
        "resolve": forms.get("resolve") or ResolveForm(), "reveal": forms.get("reveal") or RevealForm(),
        "revealed": forms.get("revealed"),
    }


@bp.route("/claims/<int:claim_id>")
def claim(claim_id):
    found = claim_service.get_for_operator(db.session, g.operator, claim_id)
    return render_template("console/claim.html", **_claim_context(found))


@bp.route("/claims/<int:claim_id>/documents/<int:document_id>")
@role_required("reviewer", "investigator")
def claim_document(claim_id, document_id):
    """Documents are served only here, to the operators on the case (the API's rule), never from a public path."""
    document = claim_documents.for_operator(db.session, g.operator, claim_id=claim_id, document_id=document_id)
    response = send_document(document)
    response.headers["Content-Disposition"] = "inline"
    return response


def _act(claim_id: int, done: str, call):
    """Run one service action; say what happened and show the case again."""
    try:
        call()
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for("console.claim", claim_id=claim_id))


def _form_failed(claim_id: int, form_name: str, form):
    found = claim_service.get_for_operator(db.session, g.operator, claim_id)
    return render_template("console/claim.html", **_claim_context(found, **{form_name: form})), 400


def _form_act(claim_id: int, form_name: str, form, done: str, call):
    """A form's action: an invalid form is shown again with its errors, a valid one runs `call(form)`."""
    if not form.validate():
        return _form_failed(claim_id, form_name, form)
    return _act(claim_id, done, lambda: call(form))


@bp.route("/claims/<int:claim_id>/review", methods=["POST"])
@role_required("reviewer")
def start_review(claim_id):
    return _act(claim_id, "已开始审核", lambda: claim_service.start_review(db.session, g.operator, claim_id, now()))


@bp.route("/claims/<int:claim_id>/return", methods=["POST"])
@role_required("reviewer")
def return_claim(claim_id):
    return _form_act(claim_id, "return_form", ReturnForm(), "已退回会员补充材料", lambda form: (
        claim_service.return_to_member(db.session, g.operator, claim_id, form.missing.data, now())))


@bp.route("/claims/<int:claim_id>/assign", methods=["POST"])
@role_required("reviewer")
def assign(claim_id):
    form = AssignForm()
    form.organisation_id.choices = [(o.id, o.name) for o in operators.list_organisations(db.session)]
    return _form_act(claim_id, "assign", form, "已指派调查机构", lambda form: claim_service.assign(
        db.session, g.operator, claim_id, form.organisation_id.data, now()))


@bp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@role_required("reviewer", "investigator")
def reject(claim_id):
    return _form_act(claim_id, "reject", RejectForm(), "已拒绝该案件", lambda form: claim_service.reject(
        db.session, g.operator, claim_id, form.reason.data, now()))


@bp.route("/claims/<int:claim_id>/report", methods=["POST"])
@role_required("investigator")
def submit_report(claim_id):
    found = claim_service.get_for_operator(db.session, g.operator, claim_id)
    form = ReportForm()
    form.aid_item_code.choices = [(i["code"], i["name"]) for i in claim_service.claim_rules(db.session, found)["aid_table"]]

    def submit(form):
        report = claim_service.InvestigationReport(findings=form.findings.data, summary=form.summary.data,
                                                   aid_item_code=form.aid_item_code.data,
                                                   approved_aid_fen=yuan_to_fen(form.approved_aid_yuan.data))
        claim_service.submit_report(db.session, g.operator, claim_id, report, now(),
                                    current_app.config["CLAIM_PUBLICITY_DAYS"])

    return _form_act(claim_id, "report", form, "调查报告已提交，案件进入公示", submit)


@bp.route("/claims/<int:claim_id>/objections/<int:objection_id>/resolve", methods=["POST"])
@role_required("reviewer")
def resolve_objection(claim_id, objection_id):
    return _form_act(claim_id, "resolve", ResolveForm(), "异议已处理", lambda form: claim_service.resolve_objection(
        db.session, g.operator, objection_id, upheld=form.upheld.data, resolution=form.resolution.data, now=now()))


@bp.route("/claims/<int:claim_id>/payout", methods=["POST"])
@role_required("finance")
def approve_payout(claim_id):
    def pay():
        transfer = payouts.approve(db.session, g.operator, claim_id, now())
        if transfer.status == "pending":
            transfer = payouts.send(db.session, services().pay, transfer.id, now())
        if transfer.status == "pending":
            raise ServiceError(f"转账已记录，微信暂未受理（{transfer.last_error or '稍后重试'}）")

    return _act(claim_id, "已批准发放，转账已提交微信，等待会员确认收款", pay)


@bp.route("/claims/<int:claim_id>/payout/sync", methods=["POST"])
@role_required("finance")
def sync_payout(claim_id):
    def sync():
        transfer = payouts.for_claim(db.session, claim_id)
        if transfer is None:
            raise NotFound("这个案件还没有转账", code="transfer_not_found")
        payouts.sync(db.session, services().pay, transfer.id, now())

    return _act(claim_id, "已向微信查询转账状态", sync)


@bp.route("/claims/<int:claim_id>/reveal", methods=["POST"])
@role_required("reviewer")
def reveal_identity(claim_id):
    form = RevealForm()
    if not form.validate():
        return _form_failed(claim_id, "reveal", form)
    revealed = identity_reveal.reveal(db.session, services().pii, g.operator, claim_id, form.reason.data, now())
    found = claim_service.get_for_operator(db.session, g.operator, claim_id)
    return render_template("console/claim.html", **_claim_context(found, revealed=revealed))


