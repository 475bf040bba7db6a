"""Schemas of subscribe-message consent: the templates a user may allow and what they accepted."""
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
