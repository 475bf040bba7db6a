"""Schemas of subscriptions (subscribe-message consent), invites and WeChat groups."""
from __future__ import annotations

from marshmallow import Schema, fields, validate


class TemplateOut(Schema):
    key = fields.String(required=True)
    template_id = fields.String(required=True, metadata={"description": "pass to wx.requestSubscribeMessage tmplIds"})
    title = fields.String(required=True)
    remaining = fields.Integer(required=True, metadata={"description": "sends the user has allowed and not used"})


class SubscriptionsOut(Schema):
    items = fields.List(fields.Nested(TemplateOut), required=True)


class ConsentIn(Schema):
    accepted = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), required=True,
        validate=validate.Length(min=1, max=5),
        metadata={"description": "template keys or ids the user accepted (wx.requestSubscribeMessage: 'accept')"})


class InviteOut(Schema):
    code = fields.String(required=True)
    share_path = fields.String(required=True, metadata={"description": "onShareAppMessage path"})
    qrcode_scene = fields.String(required=True)
    invited_count = fields.Integer(required=True)
    joined_count = fields.Integer(required=True, metadata={"description": "invited users holding a membership"})


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
