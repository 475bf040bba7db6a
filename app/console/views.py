"""The console's pages. Each reads through app.services.console_queries (or the service the API
uses) and acts through the very service functions the admin API calls: no rule is written here."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math

import segno
from flask import (Response, abort, current_app, flash, g, jsonify, redirect, render_template, request, session,
                   stream_with_context, url_for)

from app.api.claims import send_document
from app.api.rate_limits import by_address, limiter
from app.extensions import db
from app.models import ApportionmentRun, Claim, Membership, Plan
from app.services import (apportionment, claim_documents, claims as claim_service, console_queries as queries,
                          delivery, identity_reveal, operator_totp, operators, payouts, refunds)
from app.services.claims import STATUS_WORDS
from app.services.errors import NotFound, ServiceError

from .blueprint import CHINA, bp, lockout_policy, now, role_required, services, start_session
from .forms import (ActionForm, AssignForm, LoginForm, MemberLookupForm, PrepareRunForm, RejectForm, ReportForm,
                    ResolveForm, ReturnForm, RevealForm, TotpForm, yuan_to_fen)

QUEUE_TITLES = {"review": "待审核", "investigate": "待调查", "objections": "公示异议待处理", "payout": "待发放"}
RUN_STATUS_WORDS = {"prepared": "已准备", "published": "已公布", "executing": "执行中", "executed": "已完成",
                    "cancelled": "已取消"}
ALL_ROLES = ("reviewer", "investigator", "finance", "auditor")
MONEY_ROLES = ("finance", "auditor")
AUDIT_ROLES = ("auditor", "reviewer", "finance")  # as GET /api/v1/admin/audit-log
MEMBER_ROLES = ("reviewer", "finance", "auditor")  # third-party investigators look up no members


def _page() -> int:
    return request.args.get("page", 1, type=int) or 1


def _plan_filter() -> tuple[int | None, list[Plan]]:
    all_plans = queries.plans(db.session)
    code = request.args.get("plan") or None
    chosen = next((p.id for p in all_plans if p.code == code), None)
    return chosen, all_plans


def _rate_limit(scope: str):
    return limiter.limit(lambda: current_app.config["RATELIMIT_OPERATOR_LOGIN"], key_func=by_address, scope=scope,
                         methods=["POST"])


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/console/") and not target.startswith("//") else url_for(
        "console.home")


# ---- signing in -----------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@_rate_limit("operator-login")  # the same limit (and bucket) as POST /api/v1/admin/auth/login
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            operator = operators.authenticate(db.session, username=form.username.data, password=form.password.data,
                                              now=now(), lockout=lockout_policy())
        except ServiceError as exc:
            form.password.errors.append(exc.message)
        else:
            start_session(operator)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("console/login.html", form=form), (200 if request.method == "GET" else 400)


@bp.route("/logout", methods=["POST"])
def logout():
    ActionForm()  # the CSRF token was checked before the view
    session.clear()
    return redirect(url_for("console.login"))


@bp.route("/totp", methods=["GET", "POST"])
@_rate_limit("operator-totp")
def totp_verify():
    if g.operator.totp_enrolled_at is None:
        return redirect(url_for("console.totp_enrol"))
    form = TotpForm()
    if form.validate_on_submit():
        try:
            operator_totp.verify(db.session, services().pii, g.operator, code=form.code.data, now=now(),
                                 lockout=lockout_policy())
        except ServiceError as exc:
            form.code.errors.append(exc.message)
        else:
            session["stage"] = "ok"
            return redirect(url_for("console.home"))
    return render_template("console/totp_verify.html", form=form)


@bp.route("/totp/enrol", methods=["GET", "POST"])
@_rate_limit("operator-totp")
def totp_enrol():
    """The secret is made once per sign-in and kept encrypted in the session until confirmed by a code."""
    if g.operator.totp_enrolled_at is not None:
        return redirect(url_for("console.totp_verify"))
    pii = services().pii
    if "totp_pending" not in session:
        session["totp_pending"] = pii.encrypt(operator_totp.new_secret())
    secret = pii.decrypt(session["totp_pending"])
    form = TotpForm()
    if form.validate_on_submit():
        try:
            operator_totp.enrol(db.session, pii, g.operator, secret=secret, code=form.code.data, now=now(),
                                lockout=lockout_policy())
        except ServiceError as exc:
            form.code.errors.append(exc.message)
        else:
            session.pop("totp_pending", None)
            session["stage"] = "ok"
            flash("动态口令已绑定。以后每次登录都需要输入动态口令。", "success")
            return redirect(url_for("console.home"))
    uri = operator_totp.provisioning_uri(secret, g.operator.username)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    spaced = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template("console/totp_enrol.html", form=form, qr=qr, secret=spaced)


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
    plan_id, all_plans = _plan_filter()
    page = queries.queue_page(db.session, g.operator, queue, plan_id=plan_id, page=_page())
    return render_template("console/claims.html", title=QUEUE_TITLES[queue], page=page, plans=all_plans,
                           **_claim_rows(page.items))


@bp.route("/claims")
def claims():
    plan_id, all_plans = _plan_filter()
    status = request.args.get("status") if request.args.get("status") in STATUS_WORDS else None
    page = queries.claims_page(db.session, g.operator, status=status, plan_id=plan_id, page=_page())
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


# ---- apportionment runs ---------------------------------------------------------------------------

def _progress(run: ApportionmentRun) -> dict:
    total = max(1, math.ceil((run.end_membership_id - run.first_membership_id) / run.chunk_size))
    if run.status == "executed":
        done = total
    elif run.status == "executing":
        done = min(total, math.ceil((run.next_membership_id - run.first_membership_id) / run.chunk_size))
    else:
        done = 0
    return {"run_id": run.id, "status": run.status, "status_word": RUN_STATUS_WORDS[run.status],
            "chunks_done": done, "chunks_total": total, "debited_count": run.debited_count,
            "debited_fen": run.debited_fen, "suspended_count": run.suspended_count, "payer_count": run.payer_count}


@bp.route("/runs")
@role_required(*ALL_ROLES)
def runs():
    plan_id, all_plans = _plan_filter()
    page = queries.runs_page(db.session, plan_id=plan_id, page=_page())
    form = PrepareRunForm()
    form.plan_code.choices = [(p.code, p.name) for p in all_plans]
    return render_template("console/runs.html", page=page, plans=all_plans, form=form,
                           plan_codes={p.id: p.code for p in all_plans}, run_words=RUN_STATUS_WORDS)


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
    details = apportionment.run_out(found, plan.code)
    cases = apportionment.run_cases(db.session, run_id)
    return render_template("console/run.html", run=found, plan=plan, details=details, cases=cases,
                           progress=_progress(found), action=ActionForm(), run_words=RUN_STATUS_WORDS)


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


# ---- money ----------------------------------------------------------------------------------------

@bp.route("/money/refunds")
@role_required(*MONEY_ROLES)
def money_refunds():
    plan_id, all_plans = _plan_filter()
    status = request.args.get("status", "failed")
    statuses = {"failed": ("failed",), "pending": ("pending",), "succeeded": ("succeeded",)}.get(status, ("failed",))
    page = queries.refunds_page(db.session, statuses=statuses, plan_id=plan_id, page=_page())
    return render_template("console/refunds.html", page=page, plans=all_plans, status=statuses[0],
                           action=ActionForm())


@bp.route("/money/refunds/<int:refund_id>/retry", methods=["POST"])
@role_required("finance")
def retry_refund(refund_id):
    try:
        retry = refunds.retry_and_submit(db.session, services().pay, refund_id, now(), operator_id=g.operator.id)
        flash(f"已重新发起退款（新退款单 {retry.id}，状态：{retry.status}）", "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("console.money_refunds", status="failed"))


@bp.route("/money/payouts")
@role_required(*MONEY_ROLES)
def money_payouts():
    plan_id, all_plans = _plan_filter()
    page = queries.payouts_page(db.session, plan_id=plan_id, page=_page())
    return render_template("console/payouts.html", page=page, plans=all_plans)


# ---- members --------------------------------------------------------------------------------------

@bp.route("/members")
@role_required(*MEMBER_ROLES)
def members():
    plan_id, all_plans = _plan_filter()
    form = MemberLookupForm(request.args)
    found, searched = [], any(request.args.get(k) for k in ("membership_id", "id_number", "masked_name", "id_last4"))
    if searched and form.validate():
        found = queries.find_members(db.session, services().pii, membership_id=form.membership_id.data,
                                     id_number=form.id_number.data, masked_name=form.masked_name.data,
                                     id_last4=form.id_last4.data, plan_id=plan_id)
    return render_template("console/members.html", form=form, found=found, searched=searched, plans=all_plans)


@bp.route("/members/<int:membership_id>")
@role_required(*MEMBER_ROLES)
def member(membership_id):
    [view] = queries.find_members(db.session, services().pii, membership_id=membership_id) or [None]
    if view is None:
        abort(404)
    return render_template("console/member.html", view=view,
                           ledger=queries.member_ledger_page(db.session, membership_id, page=_page()),
                           deductions=apportionment.deductions(db.session, membership_id),
                           refunds=refunds.list_refunds(db.session, membership_id))


# ---- notifications and the audit log --------------------------------------------------------------

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
    page = queries.audit_page(db.session, _audit_filter(), page=_page())
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
