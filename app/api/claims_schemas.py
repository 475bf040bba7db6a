"""Schemas of the claims, announcements and operator (admin) routes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.models import INCIDENT_TYPES

from .pagination import KeysetCursor
from .merchant_transfer import MerchantTransferOut
from .schemas import MAX_ID, GivenConsentIn


class ClaimIn(Schema):
    membership_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    incident_type = fields.String(required=True, validate=validate.OneOf(INCIDENT_TYPES))
    incident_date = fields.Date(required=True)
    diagnosis_date = fields.Date(required=True)
    diagnosis = fields.String(required=True, validate=validate.Length(min=1, max=200))
    hospital = fields.String(required=True, validate=validate.Length(min=1, max=200))
    city = fields.String(required=True, validate=validate.Length(min=1, max=60))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    consent = fields.Nested(GivenConsentIn, metadata={
        "description": "required: privacy_policy and medical_documents under the current policy version; "
                       "without them 403 privacy_policy_consent_required / medical_documents_consent_required"})


class TimelineOut(Schema):
    from_status = fields.String(allow_none=True)
    to_status = fields.String(required=True)
    actor = fields.String(required=True)
    note = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class DocumentOut(Schema):
    id = fields.Integer(required=True)
    content_type = fields.String(required=True)
    size_bytes = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)


class ObjectionOut(Schema):
    id = fields.Integer(required=True)
    reason = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "pending | upheld | dismissed"})
    resolution = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    resolved_at = fields.DateTime(allow_none=True)


class PayoutOut(Schema):
    status = fields.String(required=True, metadata={"description": "pending | wait_user_confirm | succeeded | failed"})
    amount_fen = fields.Integer(required=True)
    package_info = fields.String(allow_none=True, metadata={
        "description": "for wx.requestMerchantTransfer while wait_user_confirm (claimant only)"})
    transfer = fields.Nested(MerchantTransferOut, allow_none=True, metadata={
        "description": "wx.requestMerchantTransfer's mchId, appId and package while wait_user_confirm (claimant only)"})
    paid_at = fields.DateTime(allow_none=True)


class ClaimOut(Schema):
    id = fields.Integer(required=True)
    membership_id = fields.Integer(required=True)
    status = fields.String(required=True)
    status_text = fields.String(required=True)
    incident_type = fields.String(required=True)
    incident_date = fields.Date(required=True)
    diagnosis_date = fields.Date(required=True)
    diagnosis = fields.String(required=True)
    hospital = fields.String(required=True)
    city = fields.String(required=True)
    description = fields.String(required=True)
    missing_items = fields.String(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    aid_item_code = fields.String(allow_none=True)
    approved_aid_fen = fields.Integer(allow_none=True)
    collected_aid_fen = fields.Integer(allow_none=True)
    publicity_ends_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime(required=True)
    timeline = fields.List(fields.Nested(TimelineOut), required=True)
    documents = fields.List(fields.Nested(DocumentOut), required=True)
    payout = fields.Nested(PayoutOut, allow_none=True)


class ClaimList(Schema):
    items = fields.List(fields.Nested(ClaimOut), required=True)


class ObjectionIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=5, max=1000),
                           metadata={"description": "5 to 1000 characters"})


class AnnouncementOut(Schema):
    id = fields.Integer(required=True, metadata={"description": "the case number"})
    plan_code = fields.String(required=True)
    plan_name = fields.String(required=True)
    person = fields.String(required=True, metadata={"description": "anonymised: 张*"})
    age_years = fields.Integer(required=True, metadata={"description": "at the incident"})
    sex = fields.String(required=True)
    incident_type = fields.String(required=True)
    illness = fields.String(required=True)
    hospital_city = fields.String(required=True)
    approved_aid_fen = fields.Integer(required=True)
    organisation = fields.String(allow_none=True)
    investigation_summary = fields.String(allow_none=True)
    status = fields.String(required=True)
    publicity_started_at = fields.DateTime(required=True)
    publicity_ends_at = fields.DateTime(required=True)
    objections = fields.List(fields.Nested(ObjectionOut), required=True)


class AnnouncementList(Schema):
    items = fields.List(fields.Nested(AnnouncementOut), required=True)
    next_cursor = fields.String(allow_none=True, metadata={"description": "pass as cursor for the next page; "
                                                                          "null on the last page"})


class AnnouncementQuery(Schema):
    plan_code = fields.String(validate=validate.Length(max=40))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=100))
    cursor = KeysetCursor(2)


# --- admin ------------------------------------------------------------------------------------

class OperatorLoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=60))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class OperatorOut(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    organisation_id = fields.Integer(allow_none=True)


class OperatorLoginOut(Schema):
    token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    operator = fields.Nested(OperatorOut, required=True)


class AdminClaimOut(ClaimOut):
    plan_id = fields.Integer(required=True)
    person = fields.String(required=True, metadata={"description": "masked name"})
    id_number = fields.String(required=True, metadata={"description": "masked ID number"})
    reviewer_id = fields.Integer(allow_none=True)
    organisation_id = fields.Integer(allow_none=True)
    investigator_id = fields.Integer(allow_none=True)
    finance_approver_id = fields.Integer(allow_none=True)
    findings = fields.String(allow_none=True)
    investigation_summary = fields.String(allow_none=True)
    objections = fields.List(fields.Nested(ObjectionOut), required=True)


class AdminClaimList(Schema):
    items = fields.List(fields.Nested(AdminClaimOut), required=True)


class AdminClaimQuery(Schema):
    status = fields.String(validate=validate.Length(max=16))


class ReturnIn(Schema):
    missing = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class AssignIn(Schema):
    organisation_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))


class RejectIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ReportIn(Schema):
    findings = fields.String(required=True, validate=validate.Length(min=1, max=10000))
    summary = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    aid_item_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    approved_aid_fen = fields.Integer(required=True, strict=True)


class ResolveIn(Schema):
    upheld = fields.Boolean(required=True)
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class TransferOut(Schema):
    id = fields.Integer(required=True)
    claim_id = fields.Integer(required=True)
    out_bill_no = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)


class OrganisationOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class OrganisationList(Schema):
    items = fields.List(fields.Nested(OrganisationOut), required=True)


class AuditEntryOut(Schema):
    id = fields.Integer(required=True)
    operator_id = fields.Integer(allow_none=True)
    action = fields.String(required=True)
    target_type = fields.String(required=True)
    target_id = fields.Integer(allow_none=True)
    before = fields.Dict(required=True)
    after = fields.Dict(required=True)
    created_at = fields.DateTime(required=True)


class AuditList(Schema):
    items = fields.List(fields.Nested(AuditEntryOut), required=True)


class AuditQuery(Schema):
    claim_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class NotificationErrorOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)


class OutboxStatusOut(Schema):
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_template = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer()),
                              required=True)
    due_now = fields.Integer(required=True)
    recent_errors = fields.List(fields.Nested(NotificationErrorOut), required=True)
