"""Money: refunds (pending / failed, with retry) and aid payouts."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from app.extensions import db
from app.services import console_queries as queries, refunds
from app.services.errors import ServiceError

from .blueprint import bp, now, role_required, services
from .common import MONEY_ROLES, page_number, plan_filter
from .forms import ActionForm


@bp.route("/money/refunds")
@role_required(*MONEY_ROLES)
def money_refunds():
    plan_id, all_plans = plan_filter()
    status = request.args.get("status", "failed")
    statuses = {"failed": ("failed",), "pending": ("pending",), "succeeded": ("succeeded",)}.get(status, ("failed",))
    page = queries.refunds_page(db.session, statuses=statuses, plan_id=plan_id, page=page_number())
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
    plan_id, all_plans = plan_filter()
    page = queries.payouts_page(db.session, plan_id=plan_id, page=page_number())
    return render_template("console/payouts.html", page=page, plans=all_plans)


