"""Privacy: the policy texts and consents, a member's own data (download) and name corrections,
the reviewers' side of corrections, and the published heads of the audit log."""
from __future__ import annotations

import json

from flask import Response, g
from flask_smorest import Blueprint

from app.extensions import db
from app.services import consents, personal_data, privacy_views

from .admin_security import operator_required
from .privacy_schemas import (AdminNameCorrectionList, AdminNameCorrectionOut, AuditHeadList, AuditHeadQuery,
                              StandaloneConsentIn, ConsentList, ConsentOut, NameCorrectionIn, NameCorrectionList,
                              NameCorrectionOut, NameCorrectionQuery, PolicyOut)
from .error_docs import errors
from .security import BEARER, member_required, services

blp = Blueprint("privacy", __name__, url_prefix="/api/v1", description="Privacy: consents, your data, corrections")


def consent_given(body: dict | None) -> consents.ConsentGiven | None:
    """The `consent` object of a join or claim request."""
    if not body:
        return None
    return consents.ConsentGiven(policy_version=body["policy_version"], scopes=tuple(body["scopes"]))


def _consent_out(consent, policy) -> dict:
    return {"id": consent.id, "scope": consent.scope, "policy_version": consent.policy_version,
            "membership_id": consent.membership_id, "claim_id": consent.claim_id, "given_at": consent.given_at,
            "current": consent.policy_version == policy.version}


@blp.route("/privacy/policy", methods=["GET"])
@blp.response(200, PolicyOut)
def policy():
    """The current privacy policy, service agreement and consent texts, with their version."""
    current = services().privacy_policy
    return {"version": current.version, "documents": current.documents, "scopes": current.scopes,
            "join_scopes": list(consents.JOIN_SCOPES), "claim_scopes": list(consents.CLAIM_SCOPES)}


@blp.route("/privacy/consents", methods=["POST"])
@member_required
@blp.arguments(StandaloneConsentIn)
@blp.response(201, ConsentOut)
@errors("consent_scope_invalid", "privacy_policy_consent_required", "sensitive_data_consent_required",
        "medical_documents_consent_required", "membership_not_found", "claim_not_found")
@blp.doc(security=BEARER)
def give(body):
    """Give one consent on its own (e.g. the policy again after it changed, or a claim's medical documents)."""
    container = services()
    consent = consents.give(db.session, container.privacy_policy, user_id=g.user_id, now=container.clock.now(),
                            **body)
    return _consent_out(consent, container.privacy_policy)


@blp.route("/privacy/consents", methods=["GET"])
@member_required
@blp.response(200, ConsentList)
@blp.doc(security=BEARER)
def my_consents():
    """Every consent you gave, and whether it is under the current policy version."""
    current = services().privacy_policy
    return {"policy_version": current.version,
            "items": [_consent_out(c, current) for c in consents.list_for_user(db.session, g.user_id)]}


@blp.route("/me/data", methods=["GET"])
@member_required
@blp.response(200, {"type": "object"}, description="JSON download of everything we hold about you")
@blp.doc(security=BEARER)
def my_data():
    """Everything held about you and the people you cover, decrypted, as a JSON file."""
    container = services()
    data = personal_data.export(db.session, container.pii, g.user_id, container.clock.now())
    response = Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="yiqi-my-data-{g.user_id}.json"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/me/name-corrections", methods=["POST"])
@member_required
@blp.arguments(NameCorrectionIn)
@blp.response(201, NameCorrectionOut)
@errors("person_name_invalid", "membership_not_found", "membership_erased", "correction_pending")
@blp.doc(security=BEARER)
def request_correction(body):
    """Ask for a misspelled name to be corrected; a reviewer checks it before it changes."""
    container = services()
    return personal_data.request_name_correction(db.session, container.pii, user_id=g.user_id,
                                                 membership_id=body["membership_id"], name=body["name"],
                                                 now=container.clock.now())


@blp.route("/me/name-corrections", methods=["GET"])
@member_required
@blp.response(200, NameCorrectionList)
@blp.doc(security=BEARER)
def my_corrections():
    return {"items": personal_data.list_corrections(db.session, user_id=g.user_id)}


@blp.route("/admin/name-corrections", methods=["GET"])
@operator_required("reviewer")
@blp.arguments(NameCorrectionQuery, location="query")
@blp.response(200, AdminNameCorrectionList)
@blp.doc(security=BEARER)
def admin_corrections(query):
    """Name corrections to review (reviewers only: they see the names)."""
    return {"items": privacy_views.corrections_for_reviewer(db.session, services().pii, query.get("status"))}


def _review(correction_id: int, approve: bool):
    container = services()
    correction = personal_data.review_name_correction(db.session, container.pii, g.operator, correction_id,
                                                      approve=approve, now=container.clock.now())
    return privacy_views.correction_for_reviewer(db.session, container.pii, correction.id)


@blp.route("/admin/name-corrections/<int:correction_id>/approve", methods=["POST"])
@operator_required("reviewer")
@blp.response(200, AdminNameCorrectionOut)
@errors("correction_not_found", "correction_already_reviewed", "operator_role_forbidden")
@blp.doc(security=BEARER)
def approve_correction(correction_id):
    return _review(correction_id, True)


@blp.route("/admin/name-corrections/<int:correction_id>/reject", methods=["POST"])
@operator_required("reviewer")
@blp.response(200, AdminNameCorrectionOut)
@errors("correction_not_found", "correction_already_reviewed", "operator_role_forbidden")
@blp.doc(security=BEARER)
def reject_correction(correction_id):
    return _review(correction_id, False)


@blp.route("/audit/heads", methods=["GET"])
@blp.arguments(AuditHeadQuery, location="query")
@blp.response(200, AuditHeadList)
def audit_heads(query):
    """The operator audit log's heads as published each day (public): keep a copy, and a later
    rewrite of the log shows."""
    from app.services.audit_chain import published_heads

    return {"items": published_heads(db.session, stream=query.get("stream"))}
