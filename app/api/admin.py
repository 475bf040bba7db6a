"""The operator API under /api/v1/admin. Every route needs an operator token and a role;
auditors (and every other role) may read; only the role named on a route may act."""
from __future__ import annotations

from flask import current_app, g
from flask_smorest import Blueprint

from app.extensions import db
from app.services import claim_documents, claim_views, claims as claim_service, operators, payouts

from .error_docs import errors
from .admin_security import operator_required
from .claims import send_document
from .claims_schemas import (OutboxStatusOut, AdminClaimList, AdminClaimOut, AdminClaimQuery, AssignIn, AuditList, AuditQuery,
                             ObjectionOut, OperatorLoginIn, OperatorLoginOut, OrganisationList, RejectIn, ReportIn,
                             ResolveIn, ReturnIn, TransferOut)
from .rate_limits import by_address, rate_limited
from .schemas import ErrorEnvelope
from .security import BEARER, services

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Operators: review, investigation, payout")


def admin_claim_out(claim) -> dict:
    return claim_views.operator_claim(db.session, claim.id)


def _now():
    return services().clock.now()


@blp.route("/auth/login", methods=["POST"])
@rate_limited(blp, "RATELIMIT_OPERATOR_LOGIN", by_address, "operator-login")
@blp.arguments(OperatorLoginIn)
@blp.response(200, OperatorLoginOut)
@blp.alt_response(401, schema=ErrorEnvelope)
@errors("operator_login_failed", "operator_locked")
def login(body):
    """Operator password login → an operator bearer token (not valid on member routes)."""
    cfg = current_app.config
    lockout = operators.LockoutPolicy(cfg["OPERATOR_LOCKOUT_THRESHOLD"], cfg["OPERATOR_LOCKOUT_MINUTES"])
    operator = operators.authenticate(db.session, username=body["username"], password=body["password"], now=_now(),
                                      lockout=lockout)
    tokens = services().operator_tokens
    return {"token": tokens.issue(operator.id), "token_type": "Bearer", "expires_in": tokens.max_age_seconds,
            "operator": {"id": operator.id, "username": operator.username, "roles": sorted(operator.role_set),
                         "organisation_id": operator.organisation_id}}


@blp.route("/claims", methods=["GET"])
@operator_required()
@blp.arguments(AdminClaimQuery, location="query")
@blp.response(200, AdminClaimList)
@blp.doc(security=BEARER)
def list_claims(query):
    """Cases (an investigator sees only its organisation's)."""
    return {"items": claim_views.operator_claims(db.session, g.operator, query.get("status"))}


@blp.route("/claims/<int:claim_id>", methods=["GET"])
@operator_required()
@blp.response(200, AdminClaimOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("claim_not_found")
def get_claim(claim_id):
    return admin_claim_out(claim_service.get_for_operator(db.session, g.operator, claim_id))


@blp.route("/claims/<int:claim_id>/documents/<int:document_id>", methods=["GET"])
@operator_required("reviewer", "investigator")
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("claim_not_found", "document_not_found")
def get_document(claim_id, document_id):
    """A document, for the operators on the case only."""
    return send_document(claim_documents.for_operator(db.session, g.operator, claim_id=claim_id,
                                                      document_id=document_id))


@blp.route("/claims/<int:claim_id>/review", methods=["POST"])
@operator_required("reviewer")
@blp.response(200, AdminClaimOut)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("claim_not_found", "claim_transition_invalid", "claim_changed_meanwhile", "separation_of_duties",
        "operator_role_forbidden")
def start_review(claim_id):
    """Take the case for review (submitted → under_review)."""
    return admin_claim_out(claim_service.start_review(db.session, g.operator, claim_id, _now()))


@blp.route("/claims/<int:claim_id>/return", methods=["POST"])
@operator_required("reviewer")
@blp.arguments(ReturnIn)
@blp.response(200, AdminClaimOut)
@blp.doc(security=BEARER)
@errors("claim_not_found", "claim_transition_invalid", "claim_changed_meanwhile", "not_case_reviewer",
        "missing_items_required", "operator_role_forbidden")
def return_claim(body, claim_id):
    """Incomplete: back to the member with what is missing."""
    return admin_claim_out(claim_service.return_to_member(db.session, g.operator, claim_id, body["missing"], _now()))


@blp.route("/claims/<int:claim_id>/assign", methods=["POST"])
@operator_required("reviewer")
@blp.arguments(AssignIn)
@blp.response(200, AdminClaimOut)
@blp.doc(security=BEARER)
@errors("claim_not_found", "claim_transition_invalid", "claim_changed_meanwhile", "not_case_reviewer",
        "documents_missing", "organisation_not_found", "operator_role_forbidden")
def assign(body, claim_id):
    """Complete: assign to an investigation organisation (→ investigating)."""
    return admin_claim_out(claim_service.assign(db.session, g.operator, claim_id, body["organisation_id"], _now()))


@blp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@operator_required("reviewer", "investigator")
@blp.arguments(RejectIn)
@blp.response(200, AdminClaimOut)
@blp.doc(security=BEARER)
@errors("claim_not_found", "claim_transition_invalid", "claim_changed_meanwhile", "not_case_reviewer",
        "rejection_reason_required", "separation_of_duties", "operator_role_forbidden")
def reject(body, claim_id):
    """Reject with a reason the member sees."""
    return admin_claim_out(claim_service.reject(db.session, g.operator, claim_id, body["reason"], _now()))


@blp.route("/claims/<int:claim_id>/report", methods=["POST"])
@operator_required("investigator")
@blp.arguments(ReportIn)
@blp.response(200, AdminClaimOut)
@blp.alt_response(400, schema=ErrorEnvelope, description="unknown aid item or above the plan's maximum")
@blp.doc(security=BEARER)
@errors("claim_not_found", "claim_transition_invalid", "claim_changed_meanwhile", "aid_above_maximum",
        "aid_item_unknown", "amount_invalid", "report_incomplete", "separation_of_duties",
        "operator_role_forbidden")
def submit_report(body, claim_id):
    """The investigation report: approved aid by the plan's table; the case goes into publicity."""
    report = claim_service.InvestigationReport(**body)
    claim = claim_service.submit_report(db.session, g.operator, claim_id, report, _now(),
                                        current_app.config["CLAIM_PUBLICITY_DAYS"])
    return admin_claim_out(claim)


@blp.route("/objections/<int:objection_id>/resolve", methods=["POST"])
@operator_required("reviewer")
@blp.arguments(ResolveIn)
@blp.response(200, ObjectionOut)
@blp.doc(security=BEARER)
@errors("objection_not_found", "objection_already_resolved", "resolution_required", "claim_transition_invalid",
        "claim_changed_meanwhile", "separation_of_duties", "operator_role_forbidden")
def resolve_objection(body, objection_id):
    """Upheld sends the case back to investigation; dismissed lets publicity run its course."""
    return claim_service.resolve_objection(db.session, g.operator, objection_id, upheld=body["upheld"],
                                           resolution=body["resolution"], now=_now())


@blp.route("/claims/<int:claim_id>/payout", methods=["POST"])
@operator_required("finance")
@blp.response(200, TransferOut)
@blp.alt_response(403, schema=ErrorEnvelope, description="separation of duties")
@blp.alt_response(409, schema=ErrorEnvelope, description="the case's aid has not been collected")
@blp.doc(security=BEARER)
@errors("claim_not_found", "claim_not_collected", "payout_in_progress", "separation_of_duties",
        "transfer_not_found", "operator_role_forbidden")
def approve_payout(claim_id):
    """Approve paying a collected case and send the merchant transfer (retry: call again)."""
    container = services()
    transfer = payouts.approve(db.session, g.operator, claim_id, _now())
    if transfer.status == "pending":
        transfer = payouts.send(db.session, container.pay, transfer.id, _now())
    return transfer


@blp.route("/claims/<int:claim_id>/payout/sync", methods=["POST"])
@operator_required("finance")
@blp.response(200, TransferOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("claim_not_found", "transfer_not_found", "transfer_mismatch", "operator_role_forbidden")
def sync_payout(claim_id):
    """Ask WeChat where the transfer stands (and resend a pending one with the same number)."""
    from app.services.errors import NotFound

    transfer = payouts.for_claim(db.session, claim_id)
    if transfer is None:
        raise NotFound("这个案件还没有转账", code="transfer_not_found")
    return payouts.sync(db.session, services().pay, transfer.id, _now())


@blp.route("/organisations", methods=["GET"])
@operator_required()
@blp.response(200, OrganisationList)
@blp.doc(security=BEARER)
def list_organisations():
    return {"items": operators.list_organisations(db.session)}


@blp.route("/audit-log", methods=["GET"])
@operator_required("auditor", "reviewer", "finance")
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditList)
@blp.doc(security=BEARER)
def audit_log(query):
    """The append-only operator audit log (ids, statuses, amounts; no personal data)."""
    return {"items": operators.audit_entries(db.session, claim_id=query.get("claim_id"))}


@blp.route("/notifications", methods=["GET"])
@operator_required()
@blp.response(200, OutboxStatusOut)
@blp.doc(security=BEARER)
def notifications_status():
    """The push outbox: every notification ends sent, skipped (no quota) or failed; counts and latest errors."""
    from app.services import delivery

    report = delivery.status(db.session, _now())
    return {"by_status": report.by_status, "by_template": report.by_template, "due_now": report.due_now,
            "recent_errors": report.recent_errors}
