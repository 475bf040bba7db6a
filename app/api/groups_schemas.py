"""Schemas of WeChat groups: entering a group chat and the summary of the plans its members hold."""
from __future__ import annotations

from marshmallow import Schema, fields, validate


class GroupEnterIn(Schema):
    encryptedData = fields.String(required=True, validate=validate.Length(min=1, max=4096))
    iv = fields.String(required=True, validate=validate.Length(min=1, max=64))


class GroupEnterOut(Schema):
    opengid = fields.String(required=True)


class GroupPlanCountOut(Schema):
    plan_code = fields.String(required=True)
    plan_name = fields.String(required=True)
    protected = fields.Integer(required=True)


class GroupSummaryOut(Schema):
    opengid = fields.String(required=True)
    members_seen = fields.Integer(required=True)
    protected_people = fields.Integer(required=True)
    plans = fields.List(fields.Nested(GroupPlanCountOut), required=True)
