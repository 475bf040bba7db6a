"""Members' claims: report, documents, the timeline, resubmit/withdraw, and receiving the aid."""
from __future__ import annotations

from flask import current_app, g, request, send_file
from flask_smorest import Blueprint

from app.extensions import db
from app.services import claim_documents, claim_views, claims as claim_service, payouts, refunds
from app.services.errors import InvalidRequest

from .error_docs import errors
from .merchant_transfer import with_payout_transfer
from .claims_schemas import ClaimIn, ClaimList, ClaimOut, DocumentOut
from .privacy import consent_given
from .schemas import ErrorEnvelope
from .security import BEARER, member_required, services

blp = Blueprint("claims", __name__, url_prefix="/api/v1/claims", description="Members' aid claims")


def claim_out(claim) -> dict:
    return with_payout_transfer(claim_views.member_claim(db.session, claim.id))


@blp.route("", methods=["POST"])
@member_required
@blp.arguments(ClaimIn)
@blp.response(201, ClaimOut)
@blp.alt_response(400, schema=ErrorEnvelope, description="a rule refused the claim; the message says which")
@blp.alt_response(403, schema=ErrorEnvelope, description="a consent is missing or under an older policy version")
@blp.alt_response(409, schema=ErrorEnvelope, description="the membership already has an open claim")
@blp.doc(security=BEARER)
@errors("plan_closing", "privacy_policy_consent_required", "medical_documents_consent_required", "date_in_future", "diagnosis_before_incident", "incident_before_observation_end", "incident_not_covered",
        "incident_while_suspended", "membership_in_observation", "membership_not_found",
        "membership_not_protected", "open_claim_exists", "reported_too_late")
def report(body):
    """Report a case for one of your protected memberships."""
    container = services()
    consent = consent_given(body.pop("consent", None))
    claim = claim_service.report(db.session, user_id=g.user_id,
                                 request=claim_service.ReportRequest(**body, consent=consent),
                                 now=container.clock.now(), policy=container.privacy_policy)
    return claim_out(claim)


@blp.route("", methods=["GET"])
@member_required
@blp.response(200, ClaimList)
@blp.doc(security=BEARER)
def list_mine():
    return {"items": [with_payout_transfer(c) for c in claim_views.member_claims(db.session, g.user_id)]}


@blp.route("/<int:claim_id>", methods=["GET"])
@member_required
@blp.response(200, ClaimOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("claim_not_found")
def get_one(claim_id):
    """One of your claims with its full timeline."""
    return claim_out(claim_service.get_for_user(db.session, g.user_id, claim_id))


@blp.route("/<int:claim_id>/documents", methods=["POST"])
@member_required
@blp.response(201, DocumentOut)
@blp.alt_response(400, schema=ErrorEnvelope, description="not a JPEG/PNG/PDF, empty or too large")
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER, requestBody={"content": {"multipart/form-data": {"schema": {
    "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}}}})
@errors("privacy_policy_consent_required", "medical_documents_consent_required", "claim_not_found", "document_missing", "document_empty", "document_too_large", "document_type_invalid",
        "documents_closed", "too_many_documents")
def upload(claim_id):
    """Upload a document (JPEG, PNG or PDF; the type is read from the content, not the name)."""
    upload_ = request.files.get("file")
    if upload_ is None:
        raise InvalidRequest("请选择要上传的文件（字段名 file）", code="document_missing")
    limit = current_app.config["CLAIM_DOCUMENT_MAX_BYTES"]
    data = upload_.stream.read(limit + 1)
    return claim_documents.add_document(db.session, current_app.config["CLAIM_DOCUMENTS_DIR"], user_id=g.user_id,
                                        claim_id=claim_id, data=data, max_bytes=limit, now=services().clock.now(),
                                        policy=services().privacy_policy)


@blp.route("/<int:claim_id>/documents/<int:document_id>", methods=["GET"])
@member_required
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("claim_not_found", "document_not_found")
def download(claim_id, document_id):
    """The file itself (claimant only)."""
    document = claim_documents.for_member(db.session, user_id=g.user_id, claim_id=claim_id, document_id=document_id)
    return send_document(document)


def send_document(document):
    path = claim_documents.path_of(current_app.config["CLAIM_DOCUMENTS_DIR"], document)
    response = send_file(path, mimetype=document.content_type, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("/<int:claim_id>/resubmit", methods=["POST"])
@member_required
@blp.response(200, ClaimOut)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("claim_not_found", "claim_transition_invalid", "claim_changed_meanwhile")
def resubmit(claim_id):
    """After adding what was missing, send the claim back to the reviewer."""
    return claim_out(claim_service.resubmit(db.session, user_id=g.user_id, claim_id=claim_id,
                                            now=services().clock.now()))


@blp.route("/<int:claim_id>/withdraw", methods=["POST"])
@member_required
@blp.response(200, ClaimOut)
@blp.alt_response(409, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("claim_not_found", "claim_transition_invalid", "claim_changed_meanwhile")
def withdraw(claim_id):
    return claim_out(claim_service.withdraw(db.session, user_id=g.user_id, claim_id=claim_id,
                                            now=services().clock.now()))


@blp.route("/<int:claim_id>/payout/confirmed", methods=["POST"])
@member_required
@blp.response(200, ClaimOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@blp.doc(security=BEARER)
@errors("claim_not_found", "transfer_not_found", "transfer_mismatch")
def payout_confirmed(claim_id):
    """The mini-program calls this after wx.requestMerchantTransfer succeeds: we ask WeChat and settle."""
    container = services()
    claim = claim_service.get_for_user(db.session, g.user_id, claim_id)
    transfer = payouts.for_claim(db.session, claim.id)
    if transfer is not None:
        now = container.clock.now()
        if payouts.sync(db.session, container.pay, transfer.id, now).status == "succeeded":
            # The membership is aided now and its balance on its way back: ask WeChat at once.
            refunds.submit_return(db.session, container.pay, now, membership_id=claim.membership_id)
    return claim_out(claim_service.get_for_user(db.session, g.user_id, claim_id))
