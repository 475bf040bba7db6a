"""Members: look-up by membership id, full ID number or masked fields (never browsing), and one
membership's ledger, deductions and refunds."""
from __future__ import annotations

from flask import abort, render_template, request

from app.extensions import db
from app.services import apportionment, console_queries as queries, refunds

from .blueprint import bp, role_required, services
from .common import MEMBER_ROLES, page_number, plan_filter
from .forms import MemberLookupForm


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


