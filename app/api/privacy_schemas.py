"""Schemas of the privacy routes: policy texts, consents, the member's data, corrections, audit heads."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.models import CONSENT_SCOPES, CORRECTION_STATUSES

from .schemas import MAX_ID


class PolicyDocumentOut(Schema):
    key = fields.String(required=True)
    title = fields.String(required=True)
    text = fields.String(required=True, metadata={"description": "Markdown"})


class ConsentScopeOut(Schema):
    key = fields.String(required=True)
    title = fields.String(required=True)
    text = fields.String(required=True)


class PolicyOut(Schema):
    version = fields.String(required=True)
    documents = fields.List(fields.Nested(PolicyDocumentOut), required=True)
    scopes = fields.List(fields.Nested(ConsentScopeOut), required=True)
    join_scopes = fields.List(fields.String(), required=True)
    claim_scopes = fields.List(fields.String(), required=True)


class StandaloneConsentIn(Schema):
    scope = fields.String(required=True, validate=validate.OneOf(CONSENT_SCOPES))
    policy_version = fields.String(required=True, validate=validate.Length(min=1, max=20))
    membership_id = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    claim_id = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1, max=MAX_ID))


class ConsentOut(Schema):
    id = fields.Integer(required=True)
    scope = fields.String(required=True)
    policy_version = fields.String(required=True)
    membership_id = fields.Integer(allow_none=True)
    claim_id = fields.Integer(allow_none=True)
    given_at = fields.DateTime(required=True)
    current = fields.Boolean(required=True, metadata={"description": "given under the current policy version"})


class ConsentList(Schema):
    policy_version = fields.String(required=True)
    items = fields.List(fields.Nested(ConsentOut), required=True)


class NameCorrectionIn(Schema):
    membership_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))
    name = fields.String(required=True, validate=validate.Length(min=1, max=30))


class NameCorrectionOut(Schema):
    id = fields.Integer(required=True)
    membership_id = fields.Integer(required=True)
    new_name_masked = fields.String(required=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    reviewed_at = fields.DateTime(allow_none=True)


class NameCorrectionList(Schema):
    items = fields.List(fields.Nested(NameCorrectionOut), required=True)


class NameCorrectionQuery(Schema):
    status = fields.String(validate=validate.OneOf(CORRECTION_STATUSES))


class AdminNameCorrectionOut(NameCorrectionOut):
    current_name = fields.String(allow_none=True, metadata={"description": "decrypted, for the reviewer to compare"})
    new_name = fields.String(allow_none=True, metadata={"description": "decrypted while pending"})
    reviewed_by_operator_id = fields.Integer(allow_none=True)


class AdminNameCorrectionList(Schema):
    items = fields.List(fields.Nested(AdminNameCorrectionOut), required=True)


class AuditHeadOut(Schema):
    stream = fields.String(required=True)
    day = fields.Date(required=True)
    seq = fields.Integer(required=True)
    entry_hash = fields.String(required=True)
    published_at = fields.DateTime(required=True)


class AuditHeadList(Schema):
    items = fields.List(fields.Nested(AuditHeadOut), required=True)


class AuditHeadQuery(Schema):
    stream = fields.String(validate=validate.Length(max=40))
