"""Schemas of invites: a user's invite code, its share path and QR scene, and what it brought."""
from __future__ import annotations

from marshmallow import Schema, fields


class InviteOut(Schema):
    code = fields.String(required=True)
    share_path = fields.String(required=True, metadata={"description": "onShareAppMessage path"})
    qrcode_scene = fields.String(required=True)
    invited_count = fields.Integer(required=True)
    joined_count = fields.Integer(required=True, metadata={"description": "invited users holding a membership"})
