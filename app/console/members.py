"""Members: look-up by membership id, full ID number or masked fields (never browsing), one
membership's ledger, deductions and refunds; reviewers' queue of name corrections."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from app.extensions import db
from app.models import Membership, NameCorrection
from app.services import apportionment, console_queries as queries, personal_data, refunds
from app.services.errors import ServiceError

from .blueprint import bp, now, role_required, services
from .common import MEMBER_ROLES, page_number, plan_filter
from .forms import ActionForm, MemberLookupForm


@bp.route("/members")
@role_required(*MEMBER_ROLES)
def members():
    plan_id, all_plans = plan_filter()
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
                           ledger=queries.member_ledger_page(db.session, membership_id, page=page_number()),
                           deductions=apportionment.deductions(db.session, membership_id),
                           refunds=refunds.list_refunds(db.session, membership_id))




# ---- name corrections (reviewers, as GET /api/v1/admin/name-corrections: they compare the names) ----

CORRECTION_WORDS = {"pending": "待审核", "approved": "已同意", "rejected": "已拒绝"}


@bp.route("/members/name-corrections")
@role_required("reviewer")
def name_corrections():
    status = request.args.get("status", "pending")
    status = status if status in CORRECTION_WORDS else "pending"
    pii = services().pii
    page = queries.paginate(db.session, select(NameCorrection, Membership)
                            .join(Membership, Membership.id == NameCorrection.membership_id)
                            .where(NameCorrection.status == status).order_by(NameCorrection.id.desc()),
                            page_number(), scalars=False)
    rows = [{"correction": c, "membership": m,
             "current_name": pii.decrypt(m.person_name_encrypted) if m.person_name_encrypted else None,
             "new_name": pii.decrypt(c.new_name_encrypted) if c.new_name_encrypted else None} for c, m in page.items]
    return render_template("console/name_corrections.html", rows=rows, page=page, status=status, words=CORRECTION_WORDS,
                           action=ActionForm(), names=queries.operator_names(db.session))


@bp.route("/members/name-corrections/<int:correction_id>/<string:decision>", methods=["POST"])
@role_required("reviewer")
def review_name_correction(correction_id, decision):
    if decision not in ("approve", "reject"):
        abort(404)
    try:
        personal_data.review_name_correction(db.session, services().pii, g.operator, correction_id,
                                             approve=decision == "approve", now=now())
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash("已同意更正，姓名已替换" if decision == "approve" else "已拒绝更正申请", "success")
    return redirect(url_for("console.name_corrections"))
