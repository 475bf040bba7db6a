"""Request and response schemas: they validate input and generate the OpenAPI document."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from .wind_down_schemas import BalanceReturnOut, WindDownOut


# Ids are BIGINT: anything larger cannot name a row and must be a 4xx, not a database overflow.
MAX_ID = 2**63 - 1


class StrictBoolean(fields.Boolean):
    """Only JSON true/false: a "yes" or 1 in a health declaration is a mistake, not an answer."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return value
        raise ValidationError("Must be true or false.")


class ErrorBody(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict()


class ErrorEnvelope(Schema):
    error = fields.Nested(ErrorBody, required=True)


# --- auth ---------------------------------------------------------------------------------
class LoginRequest(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128))
    inviter = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16),
                            metadata={"description": "invite code from the share path or the scanned code"})


class UserOut(Schema):
    id = fields.Integer(required=True)
    invite_code = fields.String(required=True)
    is_new = fields.Boolean(required=True)
    invited_by_user_id = fields.Integer(allow_none=True)


class LoginResponse(Schema):
    token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    user = fields.Nested(UserOut, required=True)


# --- plans --------------------------------------------------------------------------------
class QuestionOut(Schema):
    key = fields.String(required=True)
    text = fields.String(required=True)


class EligibilityGroupOut(Schema):
    label = fields.String(required=True)
    min_age_years = fields.Integer(allow_none=True)
    min_age_days = fields.Integer(allow_none=True)
    max_age_years = fields.Integer(required=True)
    sex = fields.String(allow_none=True)
    required_answers = fields.List(fields.String())


class AidItemOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    max_aid_fen = fields.Integer(required=True)


class PlanCountsOut(Schema):
    members = fields.Integer(required=True, metadata={"description": "observing + protected"})
    observing = fields.Integer(required=True)
    protected = fields.Integer(required=True)


class PlanOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    summary = fields.String(required=True)
    version = fields.Integer(required=True)
    covered_incidents = fields.List(fields.String(), required=True)
    observation_days = fields.Integer(required=True)
    max_aid_fen = fields.Integer(required=True)
    share_cap_fen = fields.Integer(required=True)
    min_prepay_fen = fields.Integer(required=True)
    management_fee_bp = fields.Integer(required=True)
    eligibility = fields.List(fields.Nested(EligibilityGroupOut), required=True)
    aid_table = fields.List(fields.Nested(AidItemOut), required=True)
    exclusions = fields.List(fields.String(), required=True)
    health_questions = fields.List(fields.Nested(QuestionOut), required=True)
    eligibility_questions = fields.List(fields.Nested(QuestionOut), required=True)
    rules_in_words = fields.List(fields.String(), required=True)
    counts = fields.Nested(PlanCountsOut, required=True)
    balances_held_fen = fields.Integer(required=True)
    aid_paid_fen = fields.Integer(required=True, metadata={"description": "aid transferred to claimants so far"})
    estimated_annual_fen = fields.Integer(allow_none=True, metadata={
        "description": "mean share of the runs executed in the last year × runs a year; null before the first run"})
    status = fields.String(required=True, validate=validate.OneOf(["open", "closing", "closed"]))
    wind_down = fields.Nested(WindDownOut, allow_none=True, required=True)


class PlanList(Schema):
    items = fields.List(fields.Nested(PlanOut), required=True)


# --- memberships ----------------------------------------------------------------------------
class PersonIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=30))
    id_number = fields.String(required=True, validate=validate.Length(min=1, max=18))


class GivenConsentIn(Schema):
    policy_version = fields.String(required=True, validate=validate.Length(min=1, max=20),
                                   metadata={"description": "version from GET /privacy/policy the payer read"})
    scopes = fields.List(fields.String(validate=validate.Length(max=30)), required=True,
                         validate=validate.Length(max=5),
                         metadata={"description": "the boxes ticked: privacy_policy and the separate consent"})


class JoinRequestIn(Schema):
    plan_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    relation = fields.String(required=True, validate=validate.OneOf(["self", "child", "parent", "spouse"]))
    person = fields.Nested(PersonIn, required=True)
    answers = fields.Dict(keys=fields.String(validate=validate.Length(max=60)), values=StrictBoolean(),
                          required=True, validate=validate.Length(max=20))
    consent = fields.Nested(GivenConsentIn, metadata={
        "description": "required: privacy_policy and sensitive_personal_data under the current policy version; "
                       "without them 403 privacy_policy_consent_required / sensitive_data_consent_required"})


class MembershipOut(Schema):
    id = fields.Integer(required=True)
    plan_code = fields.String(required=True)
    plan_name = fields.String(required=True)
    plan_version = fields.Integer(required=True)
    relation = fields.String(required=True)
    person_name = fields.String(required=True, metadata={"description": "masked: 张*"})
    id_number = fields.String(required=True, metadata={"description": "masked: 1101**********1234"})
    sex = fields.String(required=True)
    age_years = fields.Integer(required=True)
    eligibility_group = fields.String(required=True)
    state = fields.String(required=True)
    balance_fen = fields.Integer(required=True)
    min_prepay_fen = fields.Integer(required=True)
    joined_at = fields.DateTime(required=True)
    observation_starts_at = fields.DateTime(allow_none=True)
    observation_ends_at = fields.DateTime(allow_none=True)
    observation_days_left = fields.Integer(allow_none=True)
    protected_at = fields.DateTime(allow_none=True)
    suspended_at = fields.DateTime(allow_none=True)
    grace_ends_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    sponsor_token = fields.String(required=True, metadata={"description": "share it so others can top up"})
    balance_return = fields.Nested(BalanceReturnOut, allow_none=True, required=True)


class MembershipList(Schema):
    items = fields.List(fields.Nested(MembershipOut), required=True)
