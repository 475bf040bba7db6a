"""Top-ups (own and sponsored), the WeChat Pay notify endpoint, leaving with refunds, the statement."""
from __future__ import annotations

from flask import current_app, g, request
from flask_smorest import Blueprint

from app.extensions import db
from app.services import memberships as membership_service
from app.services import payments as payment_service
from app.services import refunds as refund_service

from .error_docs import errors
from .memberships import membership_out
from .payments_schemas import (LedgerPage, LeaveOut, OrderOut, PageArgs, RefundList, SponsorLinkIn, SponsorTopupIn,
                               SponsorViewOut, TopupIn, TopupOut)
from .rate_limits import by_member, rate_limited
from .schemas import ErrorEnvelope
from .security import BEARER, member_required, services

blp = Blueprint("payments", __name__, url_prefix="/api/v1", description="Top-ups, sponsors, refunds (WeChat Pay v3)")


def order_out(order, member_user_id: int | None = None) -> dict:
    return {
        "id": order.id, "out_trade_no": order.out_trade_no, "membership_id": order.membership_id,
        "amount_fen": order.amount_fen, "status": order.status,
        "sponsored": member_user_id is not None and order.payer_user_id != member_user_id,
        "created_at": order.created_at, "expires_at": order.expires_at, "paid_at": order.paid_at,
    }


def refund_out(refund) -> dict:
    return {"id": refund.id, "out_refund_no": refund.out_refund_no, "order_id": refund.order_id,
            "amount_fen": refund.amount_fen, "status": refund.status, "created_at": refund.created_at,
            "completed_at": refund.completed_at}


def _start(target, amount_fen: int) -> dict:
    container = services()
    started = payment_service.start_topup(
        db.session, container.pay, target=target, payer_user_id=g.user_id, amount_fen=amount_fen,
        max_fen=current_app.config["TOPUP_MAX_FEN"], now=container.clock.now(),
    )
    return {"order": order_out(started.order, target.member_user_id), "payment": started.payment_params}


@blp.route("/memberships/<int:membership_id>/topups", methods=["POST"])
@member_required
@rate_limited(blp, "RATELIMIT_TOPUP", by_member, "topup")
@blp.arguments(TopupIn)
@blp.response(201, TopupOut)
@blp.alt_response(400, schema=ErrorEnvelope, description="amount below the first-prepay minimum or above the ceiling")
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(503, schema=ErrorEnvelope, description="WeChat Pay did not take the order; try again")
@blp.doc(security=BEARER)
@errors("membership_not_found", "amount_above_ceiling", "amount_below_minimum", "amount_invalid",
        "membership_ended", "wechat_pay_order_failed", "upstream_unavailable")
def topup(body, membership_id):
    """Order a top-up of your own membership; returns the wx.requestPayment parameters."""
    return _start(payment_service.own_target(db.session, g.user_id, membership_id), body["amount_fen"])


# The sponsor token is a bearer secret: it travels in the JSON body, never in the URL, so it cannot
# reach an access log, a proxy's cache or a Referer header.
@blp.route("/sponsor/lookup", methods=["POST"])
@member_required
@rate_limited(blp, "RATELIMIT_SPONSOR_VIEW", by_member, "sponsor-view")
@blp.arguments(SponsorLinkIn)
@blp.response(200, SponsorViewOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("sponsor_link_invalid")
def sponsor_view(body):
    """What a sponsor link shows: the (masked) person, the plan, the state and the balance."""
    target = payment_service.sponsor_target(db.session, body["token"])
    return {"person_name": target.person_name_masked, "plan_code": target.plan_code, "plan_name": target.plan_name,
            "state": target.state, "balance_fen": target.balance_fen, "min_prepay_fen": target.min_prepay_fen,
            "is_own": target.member_user_id == g.user_id}


@blp.route("/sponsor/topups", methods=["POST"])
@member_required
@rate_limited(blp, "RATELIMIT_TOPUP", by_member, "topup")
@blp.arguments(SponsorTopupIn)
@blp.response(201, TopupOut)
@blp.alt_response(400, schema=ErrorEnvelope)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(503, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("sponsor_link_invalid", "amount_above_ceiling", "amount_below_minimum", "amount_invalid",
        "membership_ended", "wechat_pay_order_failed", "upstream_unavailable")
def sponsor_topup(body):
    """Top up someone else's membership through its sponsor link; the ledger records who paid."""
    return _start(payment_service.sponsor_target(db.session, body["token"]), body["amount_fen"])


@blp.route("/topups/<int:order_id>", methods=["GET"])
@member_required
@blp.response(200, OrderOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("order_not_found")
def get_topup(order_id):
    """One of your top-up orders (as the payer): poll it after wx.requestPayment."""
    order = payment_service.get_order_for_payer(db.session, g.user_id, order_id)
    return order_out(order, payment_service.member_user_id(db.session, order.membership_id))


@blp.route("/payments/wechat/notify", methods=["POST"])
@blp.response(204)
@blp.alt_response(400, schema=ErrorEnvelope, description="forged, stale, tampered or mismatched: nothing changed")
@blp.alt_response(404, schema=ErrorEnvelope, description="unknown order or refund: nothing changed")
@errors("invalid_notification", "notification_malformed", "notification_mismatch", "notification_not_success",
        "notification_type_unsupported", "transfer_mismatch", "order_not_found", "refund_not_found",
        "transfer_not_found", "order_paid_by_other_transaction")
def wechat_notify():
    """WeChat Pay's payment and refund notifications (signed, encrypted). 204 = applied or duplicate."""
    container = services()
    payment_service.handle_notification(db.session, container.pay, request.headers, request.get_data(),
                                        container.clock.now())
    return None


# Production may point WECHAT_PAY_REFUND_NOTIFY_URL here; the handler tells the events apart.
blp.add_url_rule("/payments/wechat/refund-notify", "wechat_refund_notify", wechat_notify, methods=["POST"])


@blp.route("/memberships/<int:membership_id>/leave", methods=["POST"])
@member_required
@blp.response(200, LeaveOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.alt_response(409, schema=ErrorEnvelope, description="an open claim blocks leaving")
@blp.doc(security=BEARER)
@errors("membership_not_found", "membership_ended", "leave_refused")
def leave(membership_id):
    """Leave the plan: the balance is refunded to the original payments, newest first, less the share of an open
    apportionment run you were counted in (withheld for it; `message` says so); money paid more than a year ago
    (WeChat refunds only within a year) goes by merchant transfer to the payer's WeChat balance (the membership's
    `balance_return` shows it, with the package_info to confirm receipt). Safe to retry."""
    container = services()
    now = container.clock.now()
    result = refund_service.leave(db.session, container.pay, user_id=g.user_id, membership_id=membership_id, now=now)
    view = membership_service.get_for_user(db.session, g.user_id, membership_id)
    return {"membership": membership_out(view, now), "refunded_fen": result.refunded_fen,
            "withheld_fen": result.withheld_fen, "withheld_run_id": result.withheld_run_id,
            "message": result.message, "refunds": [refund_out(r) for r in result.refunds]}


@blp.route("/memberships/<int:membership_id>/refunds", methods=["GET"])
@member_required
@blp.response(200, RefundList)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("membership_not_found")
def list_refunds(membership_id):
    membership_service.get_for_user(db.session, g.user_id, membership_id)
    return {"items": [refund_out(r) for r in refund_service.list_refunds(db.session, membership_id)]}


@blp.route("/memberships/<int:membership_id>/ledger", methods=["GET"])
@member_required
@blp.arguments(PageArgs, location="query")
@blp.response(200, LedgerPage)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("membership_not_found")
def statement(args, membership_id):
    """Your membership's money movements, newest first, in fen, with reason codes and references."""
    membership_service.get_for_user(db.session, g.user_id, membership_id)
    items, total = payment_service.member_movements(db.session, membership_id, page=args["page"],
                                                    per_page=args["per_page"])
    return {"items": [vars(m) for m in items], "page": args["page"], "per_page": args["per_page"], "total": total}
