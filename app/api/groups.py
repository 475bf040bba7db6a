"""WeChat groups: presence from getGroupEnterInfo, and counts-only summaries for a group's members."""
from __future__ import annotations

from dataclasses import asdict

from flask import g
from flask_smorest import Blueprint

from app.extensions import db
from app.services import groups

from .error_docs import errors
from .groups_schemas import GroupEnterIn, GroupEnterOut, GroupSummaryOut
from .schemas import ErrorEnvelope
from .security import BEARER, member_required, services

blp = Blueprint("groups", __name__, url_prefix="/api/v1/groups", description="WeChat group chats")


@blp.route("/enter", methods=["POST"])
@member_required
@blp.arguments(GroupEnterIn)
@blp.response(200, GroupEnterOut)
@blp.alt_response(400, schema=ErrorEnvelope, description="the data does not decrypt for this user and app")
@blp.doc(security=BEARER)
@errors("open_data_invalid", "opengid_invalid", "session_key_missing")
def enter(body):
    container = services()
    opengid = groups.enter(db.session, container.pii, container.mini_program, user_id=g.user_id,
                           encrypted_data=body["encryptedData"], iv=body["iv"], now=container.clock.now())
    return {"opengid": opengid}


@blp.route("/<string:opengid>/summary", methods=["GET"])
@member_required
@blp.response(200, GroupSummaryOut)
@blp.alt_response(404, schema=ErrorEnvelope, description="not a group this user was seen in")
@blp.doc(security=BEARER)
@errors("group_not_found")
def group_summary(opengid):
    return asdict(groups.summary(db.session, user_id=g.user_id, opengid=opengid))
